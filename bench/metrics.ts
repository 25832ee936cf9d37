/** Every figure the bench reports: its id, the table it belongs to, unit and direction. */
import type { Settings } from "./settings.ts";

export interface MetricDef {
  id: string;
  table: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  digits: number;
  /** Only proxies have it (CPU, RSS, added latency): no `direct` value. */
  proxyOnly?: boolean;
}

export interface TableDef {
  title: string;
  note: string;
}

function m(
  table: string,
  id: string,
  label: string,
  unit: string,
  better: "higher" | "lower",
  digits: number,
  proxyOnly = false,
): MetricDef {
  return { id, table, label, unit, better, digits, proxyOnly };
}

export function tableDefs(s: Settings): Record<string, TableDef> {
  const gib = (b: number) => `${(b / (1 << 30)).toFixed(b >= 1 << 30 ? 0 : 3)} GiB`;
  return {
    tput1: {
      title: "Single-connection throughput",
      note: `${gib(s.tputBytes)} one way; the clock stops at the sink's last ack. MB/s = 10^6 B/s. ` +
        "Proxy CPU = user+sys of all proxy processes per 10^9 bytes.",
    },
    tput8: {
      title: "8-connection aggregate throughput",
      note: `${gib(s.tput8Bytes)} in total over 8 parallel connections; same clock and CPU accounting.`,
    },
    pingpong: {
      title: "Ping-pong round trips (1 byte, one connection)",
      note: `${s.pingpongSeconds} s per run. Added RTT = RTT − direct's RTT in the same run. On a small VM ` +
        "this figure is bimodal (whether the scheduler puts both ends on one CPU), so expect wide run-to-run spread.",
    },
    connrate1: {
      title: "New tunnelled connections/s, 1 client",
      note: `${s.connrateSeconds} s; each: connect (+SOCKS5 for zt and ztunnel), 1-byte echo, close. ` +
        "Connect time = connect until the first echo byte is back.",
    },
    connrate8: {
      title: "New tunnelled connections/s, 8 parallel clients",
      note: "As above, 8 clients at once.",
    },
    latency: {
      title: "Istio latency point (1 KiB request/response, 1,000 rps, 16 connections)",
      note: `Open loop, ${s.latency.seconds} s after ${s.latency.warmup} s warm-up; latency from each ` +
        "request's scheduled send time (no coordinated omission). CPU = both proxies' CPU seconds per second.",
    },
    memory: {
      title: "Proxy memory (VmRSS)",
      note:
        "Per proxy process: 1 = client side (stunnel client, zt or ztunnel node A), 2 = server side. Idle = after " +
        "start and a settle pause, before any traffic. KiB/conn = (RSS with N − RSS just before) / N.",
    },
  };
}

export function metricDefs(s: Settings): MetricDef[] {
  const defs: MetricDef[] = [
    m("tput1", "tput1.mbps", "throughput", "MB/s", "higher", 0),
    m("tput1", "tput1.cpu_s_per_gb", "proxy CPU", "s/GB", "lower", 2, true),
    m("tput8", "tput8.mbps", "throughput", "MB/s", "higher", 0),
    m("tput8", "tput8.cpu_s_per_gb", "proxy CPU", "s/GB", "lower", 2, true),
    m("pingpong", "pingpong.rtt_per_s", "round trips/s", "1/s", "higher", 0),
    m("pingpong", "pingpong.rtt_us", "mean RTT", "µs", "lower", 1),
    m("pingpong", "pingpong.added_us", "added RTT", "µs", "lower", 1, true),
    m("connrate1", "connrate1.conn_per_s", "connections/s", "1/s", "higher", 0),
    m("connrate1", "connrate1.p50_us", "connect p50", "µs", "lower", 0),
    m("connrate1", "connrate1.p99_us", "connect p99", "µs", "lower", 0),
    m("connrate8", "connrate8.conn_per_s", "connections/s", "1/s", "higher", 0),
    m("connrate8", "connrate8.p50_us", "connect p50", "µs", "lower", 0),
    m("connrate8", "connrate8.p99_us", "connect p99", "µs", "lower", 0),
    m("latency", "latency.p50_us", "p50", "µs", "lower", 0),
    m("latency", "latency.p90_us", "p90", "µs", "lower", 0),
    m("latency", "latency.p99_us", "p99", "µs", "lower", 0),
    m("latency", "latency.cpu_vcpu", "proxy CPU", "vCPU", "lower", 3, true),
  ];
  for (const p of [1, 2]) {
    defs.push(m("memory", `mem.idle_mib.${p}`, `idle RSS, proxy ${p}`, "MiB", "lower", 1, true));
  }
  for (const n of s.idleCounts) {
    for (const p of [1, 2]) {
      defs.push(
        m("memory", `mem.rss_${n}_mib.${p}`, `RSS with ${n} idle conns, proxy ${p}`, "MiB", "lower", 1, true),
      );
      defs.push(
        m("memory", `mem.kib_per_conn_${n}.${p}`, `KiB/conn at ${n}, proxy ${p}`, "KiB", "lower", 1, true),
      );
    }
  }
  return defs;
}
