/**
 * Sizes and durations of a bench run. The default is the full spec (issue 7); environment knobs:
 *   BENCH_QUICK=1        small sizes and short durations (a smoke run, about 2 minutes)
 *   BENCH_RUNS=N         runs per measurement (default 3)
 *   BENCH_SETUPS=a,b     only these setups (direct, stunnel, ztunnel, zt, zt-netns, zt-openssl, zt-capture)
 *   ZTUNNEL_BIN=path     Istio's ztunnel binary for the `ztunnel` setup (without it: "not run")
 *   BENCH_SCENARIOS=a,b  only these scenarios (see SCENARIO_IDS)
 */

export const SCENARIO_IDS = [
  "idle_rss",
  "pingpong",
  "latency",
  "tput1",
  "tput8",
  "connrate1",
  "connrate8",
  "idle_conns",
  "config",
] as const;
export type ScenarioId = typeof SCENARIO_IDS[number];

export interface Settings {
  quick: boolean;
  runs: number;
  setups?: string[];
  scenarios: ScenarioId[];
  /** tput: bytes for one connection, and in total over 8. */
  tputBytes: number;
  tput8Bytes: number;
  /** tput: a connection stops after this long and counts only what was acked. */
  tputMaxSeconds: number;
  pingpongSeconds: number;
  connrateSeconds: number;
  latency: { conns: number; rate: number; size: number; seconds: number; warmup: number };
  /** Idle tunnelled connections held while RSS is read. */
  idleCounts: number[];
  /** Pause before reading RSS, so the proxies settle. */
  settleMs: number;
}

const GiB = 1 << 30, MiB = 1 << 20;

function list(v: string | undefined): string[] | undefined {
  const items = v?.split(",").map((s) => s.trim()).filter(Boolean);
  return items?.length ? items : undefined;
}

export function loadSettings(env: Record<string, string | undefined> = Deno.env.toObject()): Settings {
  const quick = env.BENCH_QUICK === "1" || env.BENCH_QUICK === "true";
  const runs = env.BENCH_RUNS ? Number(env.BENCH_RUNS) : 3;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`BENCH_RUNS: expected a positive integer, got ${runs}`);
  }
  const scenarios = list(env.BENCH_SCENARIOS) ?? [...SCENARIO_IDS];
  for (const s of scenarios) {
    if (!(SCENARIO_IDS as readonly string[]).includes(s)) {
      throw new Error(`BENCH_SCENARIOS: unknown scenario "${s}" (known: ${SCENARIO_IDS.join(", ")})`);
    }
  }
  return {
    quick,
    runs,
    setups: list(env.BENCH_SETUPS),
    scenarios: scenarios as ScenarioId[],
    tputBytes: quick ? 128 * MiB : GiB,
    tput8Bytes: quick ? 128 * MiB : GiB,
    tputMaxSeconds: quick ? 10 : 30,
    pingpongSeconds: quick ? 1 : 5,
    connrateSeconds: quick ? 1 : 5,
    latency: { conns: 16, rate: 1000, size: 1024, seconds: quick ? 2 : 20, warmup: quick ? 0.5 : 1 },
    idleCounts: quick ? [100, 1000] : [1000, 10000],
    settleMs: quick ? 500 : 2000,
  };
}
