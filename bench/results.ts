/** What a bench run collected: one record per (run, setup, scenario), and the medians over runs. */

export interface RunRecord {
  run: number;
  setup: string;
  scenario: string;
  values: Record<string, number>;
  raw?: unknown;
  /** The measurement ran, but something about it is off (errors during it, incomplete). */
  warning?: string;
  /** The measurement failed; no values. */
  error?: string;
  seconds: number;
}

export interface ConfigCostRun {
  policy?: { decisionsPerSecond: number; policies: number; rulesPerPolicy: number; buildMs: number };
  policyError?: string;
  xds?: { applyMs: number; [k: string]: number };
  xdsError?: string;
}

export function median(xs: number[]): number | undefined {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export class Results {
  records: RunRecord[] = [];
  /** setup → why it did not run at all */
  notRun: Record<string, string> = {};
  /** setup → description, in report order */
  setups: { name: string; description: string }[] = [];
  config: ConfigCostRun[] = [];

  constructor(readonly runs: number) {}

  add(r: RunRecord) {
    this.records.push(r);
  }

  /** The value of `metric` in each run (undefined where missing). */
  perRun(setup: string, metric: string): (number | undefined)[] {
    const out: (number | undefined)[] = Array(this.runs).fill(undefined);
    for (const r of this.records) {
      if (r.setup === setup && metric in r.values) out[r.run - 1] = r.values[metric];
    }
    return out;
  }

  median(setup: string, metric: string): number | undefined {
    return median(this.perRun(setup, metric).filter((x): x is number => x !== undefined));
  }

  /** Warnings and errors for a setup, as "run N scenario: message". */
  problems(setup: string): string[] {
    return this.records.filter((r) => r.setup === setup && (r.error || r.warning))
      .map((r) => `run ${r.run} ${r.scenario}: ${r.error ? "failed: " + r.error : r.warning}`);
  }

  /** Adds pingpong.added_us = RTT − direct's RTT in the same run, for every proxied setup. */
  deriveAddedRtt() {
    for (const r of this.records) {
      if (r.setup === "direct" || r.values["pingpong.rtt_us"] === undefined) continue;
      const direct = this.perRun("direct", "pingpong.rtt_us")[r.run - 1];
      if (direct !== undefined) r.values["pingpong.added_us"] = r.values["pingpong.rtt_us"] - direct;
    }
  }

  toJSON() {
    return {
      runs: this.runs,
      setups: this.setups,
      notRun: this.notRun,
      records: this.records,
      config: this.config,
    };
  }
}
