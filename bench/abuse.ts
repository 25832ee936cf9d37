/**
 * What zt does under each attack of issue 14, one attack at a time against one fresh node with a live
 * tunnel (SOCKS5 → HBONE → echo, a 1-byte round trip every 100 ms): the node's peak RSS during the
 * attack (and its RSS before), the bytes the attacker's socket took before it was stopped, how long
 * until the node stopped it (its GOAWAY, RST_STREAM or close, from the attack's start), the code it
 * used, the violation the node logged, and the live tunnel's worst round trip during the attack.
 * Prints a Markdown table (about 75 s: the keepalive attack alone waits 30 s).
 *
 *   deno run -A bench/abuse.ts            # run it in a network namespace of its own (127.71.x.x)
 *   ABUSE_ONLY=ping,settings deno run -A bench/abuse.ts
 *   ZT_TLS=openssl deno run -A bench/abuse.ts   # the node on its OpenSSL TLS backend
 */
import { LIVE_PORT, startAbuseTarget } from "../tests/fakes/abuse_target.ts";
import { LiveProbe } from "../tests/fakes/live_probe.ts";
import { ProcessSampler } from "../tests/fakes/process_sampler.ts";
import {
  ackFlood,
  type AttackContext,
  type AttackResult,
  continuationFlood,
  hugeHpackBlock,
  rapidReset,
} from "../tests/peers/h2_attacks.ts";
import {
  dataPastConnectionWindow,
  dataPastStreamWindow,
  settingsWindowOverflow,
  windowOverflow,
} from "../tests/peers/h2_window_attacks.ts";
import { handshakeStall, keepaliveStall, prefaceStall } from "../tests/peers/h2_stall_attacks.ts";
import { CODE_NAMES } from "../tests/peers/h2_frames.ts";

const IPS = { node: "127.71.0.1", pod: "127.71.1.1", app: "127.71.1.2" };

const ATTACKS: Record<string, (ctx: AttackContext) => Promise<AttackResult>> = {
  continuation: continuationFlood,
  hpack: hugeHpackBlock,
  rapid_paced: (c) => rapidReset(c, true),
  rapid_batched: (c) => rapidReset(c, false),
  ping: (c) => ackFlood(c, "PING"),
  settings: (c) => ackFlood(c, "SETTINGS"),
  data_stream: dataPastStreamWindow,
  data_conn: dataPastConnectionWindow,
  window_update: windowOverflow,
  settings_window: settingsWindowOverflow,
  handshake: (c) => handshakeStall(c.target.host, c.target.port, 4000),
  preface: prefaceStall,
  keepalive: keepaliveStall,
};

const only = Deno.env.get("ABUSE_ONLY")?.split(",");
const tlsBackend = Deno.env.get("ZT_TLS");
const target = await startAbuseTarget(IPS, tlsBackend ? { ZT_TLS: tlsBackend } : {});
const pid = target.node.child.pid;
const sampler = new ProcessSampler(pid, 50);
const probe = await LiveProbe.start({ ip: IPS.pod, port: 15080 }, IPS.app, LIVE_PORT);
const mib = (kib: number) => (kib / 1024).toFixed(0);
const bytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
const rows: string[] = [];
try {
  await new Promise((r) => setTimeout(r, 1000));
  for (const [key, attack] of Object.entries(ATTACKS)) {
    if (only && !only.includes(key)) continue;
    const s0 = sampler.samples.length;
    const before = sampler.last?.rssKiB ?? 0;
    const p0 = probe.count;
    const r = await attack(target.ctx);
    await new Promise((res) => setTimeout(res, 300)); // memory freed after the close shows too
    const peak = sampler.peak(s0);
    const live = probe.summary(p0);
    const stops = r.conns.map((c) => c.stopMs).filter((x) => x !== undefined);
    const how = r.conns.length === 0
      ? `${r.facts.closedByNode} of ${r.facts.opened} closed by the node`
      : r.conns.map((c) => {
        const parts = [];
        if (c.goaway) parts.push(`GOAWAY ${CODE_NAMES[c.goaway.code] ?? c.goaway.code}`);
        for (const [id, code] of c.resets) parts.push(`RST(${id}) ${CODE_NAMES[code] ?? code}`);
        const reason = target.node.logs.find((l) =>
          l.message === "hbone connection dropped" && String(l["src.addr"]).endsWith(`:${c.port}`)
        )?.reason;
        if (reason) parts.push(`logged ${reason}`);
        return parts.join(", ") || (c.closed ? "closed" : "open");
      }).join("; ");
    const stopped = stops.length
      ? `${Math.max(...stops)} ms`
      : r.facts.maxCloseMs
      ? `${r.facts.minCloseMs}–${r.facts.maxCloseMs} ms`
      : "";
    const facts = Object.entries(r.facts).map(([k, v]) => `${k}=${v}`).join(" ");
    rows.push(
      `| ${r.name} | ${mib(before)} → ${mib(peak.rssKiB)} MiB | ${
        bytes(r.sent)
      } | ${stopped} | ${how} | ${live.worstMs} ms | ${facts} |`,
    );
    console.error(rows.at(-1));
  }
} finally {
  const live = await probe.stop();
  sampler.stop();
  const code = await target.close();
  console.log(
    "| attack | node RSS before → peak | attacker bytes taken before the stop | time to stop | how it ended | worst live RTT | facts |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log(
    `\nlive tunnel over the whole run: ${live.roundTrips} round trips, worst ${live.worstMs} ms, p99 ${live.p99Ms} ms` +
      `${live.failure ? `, FAILED: ${live.failure}` : ""}; node exit code ${code}`,
  );
}
