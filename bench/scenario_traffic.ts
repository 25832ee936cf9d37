/** Traffic scenarios: throughput, ping-pong, new-connection rate and the latency point. */
import { runLg } from "./lg_client.ts";
import { cpuSeconds } from "./proc_stats.ts";
import type { Settings } from "./settings.ts";
import type { ProxyProc, Setup } from "./setup.ts";

export interface ScenarioOutput {
  values: Record<string, number>;
  raw: unknown;
  warning?: string;
}

export function proxyCpu(proxies: ProxyProc[]): number {
  return proxies.reduce((sum, p) => sum + cpuSeconds(p.pid), 0);
}

export async function tput(
  lg: string,
  setup: Setup,
  s: Settings,
  conns: number,
  bytes: number,
  prefix: string,
): Promise<ScenarioOutput> {
  const cpu0 = proxyCpu(setup.proxies);
  const r = await runLg(lg, "tput", setup.route, [
    "--conns",
    String(conns),
    "--bytes",
    String(bytes),
    "--max-seconds",
    String(s.tputMaxSeconds),
  ], (s.tputMaxSeconds + 60) * 1000);
  const cpu = proxyCpu(setup.proxies) - cpu0;
  const values: Record<string, number> = { [`${prefix}.mbps`]: r.mbps };
  if (setup.proxies.length && r.confirmed > 0) values[`${prefix}.cpu_s_per_gb`] = cpu / (r.confirmed / 1e9);
  const warning = r.complete ? undefined : `incomplete (${r.error}); counted the ${r.confirmed} acked bytes`;
  return { values, raw: { ...r, proxy_cpu_s: cpu }, warning };
}

export async function pingpong(lg: string, setup: Setup, s: Settings): Promise<ScenarioOutput> {
  const warmup = s.quick ? 0.2 : 1;
  const r = await runLg(lg, "pingpong", setup.route, [
    "--seconds",
    String(s.pingpongSeconds),
    "--warmup",
    String(warmup),
  ], (s.pingpongSeconds + warmup + 30) * 1000);
  return { values: { "pingpong.rtt_per_s": r.rtt_per_s, "pingpong.rtt_us": r.mean_us }, raw: r };
}

export async function connrate(
  lg: string,
  setup: Setup,
  s: Settings,
  clients: number,
): Promise<ScenarioOutput> {
  const r = await runLg(lg, "connrate", setup.route, [
    "--conns",
    String(clients),
    "--seconds",
    String(s.connrateSeconds),
  ], (s.connrateSeconds + 40) * 1000);
  const p = `connrate${clients}`;
  return {
    values: { [`${p}.conn_per_s`]: r.conn_per_s, [`${p}.p50_us`]: r.p50_us, [`${p}.p99_us`]: r.p99_us },
    raw: r,
    warning: r.errors ? `${r.errors} failed connections, first: ${r.error}` : undefined,
  };
}

export async function latency(lg: string, setup: Setup, s: Settings): Promise<ScenarioOutput> {
  const l = s.latency;
  const cpu0 = proxyCpu(setup.proxies);
  const t0 = performance.now();
  const r = await runLg(lg, "latency", setup.route, [
    "--conns",
    String(l.conns),
    "--rate",
    String(l.rate),
    "--size",
    String(l.size),
    "--seconds",
    String(l.seconds),
    "--warmup",
    String(l.warmup),
  ], (l.seconds + l.warmup + 60) * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const values: Record<string, number> = {
    "latency.p50_us": r.p50_us,
    "latency.p90_us": r.p90_us,
    "latency.p99_us": r.p99_us,
  };
  if (setup.proxies.length) values["latency.cpu_vcpu"] = (proxyCpu(setup.proxies) - cpu0) / elapsed;
  const short = r.achieved_rps < 0.95 * l.rate ? `only ${r.achieved_rps} requests/s completed` : undefined;
  return { values, raw: r, warning: r.error || short };
}
