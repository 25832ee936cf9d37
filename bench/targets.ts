/** Issue 7's targets for zt, evaluated on the medians (relative to stunnel, or absolute). */
import type { Results } from "./results.ts";
import type { Settings } from "./settings.ts";

export interface TargetResult {
  name: string;
  requirement: string;
  /** zt's median (or the worse of its two nodes) */
  value?: number;
  /** stunnel's figure for the same thing */
  reference?: number;
  /** value ÷ reference, for relative targets */
  ratio?: number;
  /** Istio's ztunnel's figure for the same thing (a comparison, not part of the target) */
  ztunnel?: number;
  unit: string;
  met?: boolean;
  /** why it could not be evaluated */
  missing?: string;
}

interface RelativeTarget {
  name: string;
  metric: string;
  unit: string;
  op: ">=" | "<=";
  factor: number;
}

const RELATIVE: RelativeTarget[] = [
  { name: "single-connection throughput", metric: "tput1.mbps", unit: "MB/s", op: ">=", factor: 1.0 },
  { name: "8-connection throughput", metric: "tput8.mbps", unit: "MB/s", op: ">=", factor: 1.0 },
  {
    name: "added round-trip latency (vs direct)",
    metric: "pingpong.added_us",
    unit: "µs",
    op: "<=",
    factor: 1.0,
  },
  { name: "latency point p99", metric: "latency.p99_us", unit: "µs", op: "<=", factor: 1.5 },
  { name: "new connections/s, 1 client", metric: "connrate1.conn_per_s", unit: "1/s", op: ">=", factor: 3 },
  { name: "new connections/s, 8 clients", metric: "connrate8.conn_per_s", unit: "1/s", op: ">=", factor: 3 },
  {
    name: "proxy CPU per GB, 1 connection",
    metric: "tput1.cpu_s_per_gb",
    unit: "s/GB",
    op: "<=",
    factor: 1.0,
  },
  {
    name: "proxy CPU per GB, 8 connections",
    metric: "tput8.cpu_s_per_gb",
    unit: "s/GB",
    op: "<=",
    factor: 1.0,
  },
];

function worstNode(r: Results, setup: string, metric: string): number | undefined {
  const v = [1, 2].map((p) => r.median(setup, `${metric}.${p}`)).filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
}

export function evaluateTargets(r: Results, s: Settings, setup = "zt"): TargetResult[] {
  const out: TargetResult[] = [];
  const notRun = r.notRun[setup];
  for (const t of RELATIVE) {
    const value = r.median(setup, t.metric), reference = r.median("stunnel", t.metric);
    const requirement = `${t.op === ">=" ? "≥" : "≤"} ${t.factor.toFixed(1)}× stunnel`;
    const ztunnel = r.median("ztunnel", t.metric);
    const base = { name: t.name, requirement, value, reference, unit: t.unit, ztunnel };
    if (value === undefined || reference === undefined) {
      out.push({
        ...base,
        missing: notRun ?? (value === undefined ? `no ${setup} value` : "no stunnel value"),
      });
      continue;
    }
    const ratio = value / reference;
    out.push({ ...base, ratio, met: t.op === ">=" ? ratio >= t.factor : ratio <= t.factor });
  }
  const bigN = Math.max(...s.idleCounts);
  const absolute = [
    {
      name: `RSS per idle tunnelled connection at ${bigN}, per node`,
      metric: `mem.kib_per_conn_${bigN}`,
      limit: 10,
    },
    { name: "idle RSS, per node", metric: "mem.idle_mib", limit: 60 },
  ];
  for (const t of absolute) {
    const unit = t.metric.includes("kib") ? "KiB" : "MiB";
    const value = worstNode(r, setup, t.metric), reference = worstNode(r, "stunnel", t.metric);
    const ztunnel = worstNode(r, "ztunnel", t.metric);
    const base = { name: t.name, requirement: `≤ ${t.limit} ${unit}`, value, reference, unit, ztunnel };
    if (value === undefined) out.push({ ...base, missing: notRun ?? `no ${setup} value` });
    else out.push({ ...base, ratio: reference ? value / reference : undefined, met: value <= t.limit });
  }
  return out;
}
