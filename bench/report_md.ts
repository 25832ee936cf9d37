/** bench/results/latest.md: machine, setups, targets, one table per measurement, config costs. */
import type { Machine } from "./machine.ts";
import { type MetricDef, metricDefs, tableDefs } from "./metrics.ts";
import { median, type Results } from "./results.ts";
import type { Settings } from "./settings.ts";
import type { TargetResult } from "./targets.ts";

export interface ReportInput {
  results: Results;
  settings: Settings;
  machine: Machine;
  stunnelVersion: string;
  targets: TargetResult[];
  elapsedS: number;
}

export function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return "–";
  const s = v.toFixed(digits);
  return Math.abs(v) >= 10000 ? Number(s).toLocaleString("en-US", { maximumFractionDigits: digits }) : s;
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return "–";
  return `${(a / b).toFixed(2)}×`;
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function metricTable(r: Results, defs: MetricDef[]): string[] {
  const runs = Array.from({ length: r.runs }, (_, i) => `run ${i + 1}`);
  const lines = [row(["figure", "setup", ...runs, "median", "÷ stunnel", "÷ ztunnel", "÷ direct"])];
  lines.push(row(Array(runs.length + 6).fill("---")));
  for (const d of defs) {
    const stunnel = r.median("stunnel", d.id);
    const ztunnel = r.median("ztunnel", d.id);
    const direct = d.proxyOnly ? undefined : r.median("direct", d.id);
    for (const s of r.setups) {
      if (d.proxyOnly && s.name === "direct") continue;
      const label = `${d.label} (${d.unit})`;
      if (r.notRun[s.name]) continue;
      const vals = r.perRun(s.name, d.id);
      const med = median(vals.filter((x): x is number => x !== undefined));
      lines.push(row([
        label,
        s.name,
        ...vals.map((v) => fmt(v, d.digits)),
        `**${fmt(med, d.digits)}**`,
        ratio(med, stunnel),
        ratio(med, ztunnel),
        d.proxyOnly ? "–" : ratio(med, direct),
      ]));
    }
  }
  return lines;
}

function targetTable(targets: TargetResult[]): string[] {
  const lines = [
    row(["target", "requirement", "zt", "stunnel", "zt ÷ stunnel", "met?", "ztunnel", "zt ÷ ztunnel"]),
  ];
  lines.push(row(Array(8).fill("---")));
  for (const t of targets) {
    const met = t.met === undefined ? `n/a (${t.missing ?? "no value"})` : t.met ? "**yes**" : "**no**";
    lines.push(row([
      t.name,
      t.requirement,
      t.value === undefined ? "–" : `${fmt(t.value, 1)} ${t.unit}`,
      t.reference === undefined ? "–" : `${fmt(t.reference, 1)} ${t.unit}`,
      t.ratio === undefined ? "–" : `${t.ratio.toFixed(2)}×`,
      met,
      t.ztunnel === undefined ? "–" : `${fmt(t.ztunnel, 1)} ${t.unit}`,
      t.value === undefined || !t.ztunnel ? "–" : `${(t.value / t.ztunnel).toFixed(2)}×`,
    ]));
  }
  return lines;
}

function configTable(r: Results): string[] {
  if (!r.config.length) return ["Not measured (scenario `config` not selected)."];
  const runs = r.config.map((_, i) => `run ${i + 1}`);
  const lines = [row(["figure", ...runs, "median"]), row(Array(runs.length + 2).fill("---"))];
  const add = (label: string, get: (c: (typeof r.config)[number]) => number | undefined, digits: number) => {
    const vals = r.config.map(get);
    lines.push(
      row([
        label,
        ...vals.map((v) => fmt(v, digits)),
        `**${fmt(median(vals.filter((v) => v !== undefined) as number[]), digits)}**`,
      ]),
    );
  };
  const firstPolicy = r.config.find((c) => c.policy)?.policy;
  if (firstPolicy) {
    const what = `${firstPolicy.policies} policies × ${firstPolicy.rulesPerPolicy} rules`;
    add(`policy decisions/s (${what})`, (c) => c.policy?.decisionsPerSecond, 0);
    add("policy build time (ms)", (c) => c.policy?.buildMs, 1);
  } else {lines.push(row([
      "policy decisions/s (10,000 policies)",
      ...runs.map(() => "–"),
      r.config[0].policyError ?? "not available",
    ]));}
  const firstXds = r.config.find((c) => c.xds)?.xds;
  if (firstXds) {
    const size = [
      firstXds.resources !== undefined ? `${firstXds.resources} resources` : "",
      firstXds.bytes !== undefined ? `${(firstXds.bytes / 1e6).toFixed(1)} MB` : "",
    ].filter(Boolean).join(", ");
    add(`xDS push apply time (ms${size ? `; ${size}` : ""})`, (c) => c.xds?.applyMs, 1);
    const extra = Object.keys(firstXds).filter((k) => !["applyMs", "resources", "bytes"].includes(k));
    for (const k of extra) add(`xDS push: ${k}`, (c) => c.xds?.[k], 1);
  } else {lines.push(row([
      "xDS push apply time (ms)",
      ...runs.map(() => "–"),
      r.config[0].xdsError ?? "not available",
    ]));}
  return lines;
}

export function renderMarkdown(input: ReportInput): string {
  const { results: r, settings: s, machine: m } = input;
  const out: string[] = [];
  out.push(`# zt benchmark: direct vs stunnel vs ztunnel vs zt`, "");
  out.push(
    `Measured ${m.date} by \`deno task bench\` (bench/run.ts) in ${Math.round(input.elapsedS)} s` +
      `${s.quick ? ", **BENCH_QUICK=1 (reduced sizes: a smoke run, not the spec)**" : ""}. ` +
      `Each figure: ${r.runs} runs, all shown, and their median. Ratios compare medians; ` +
      "`÷ ztunnel` is against Istio's ztunnel, which runs on two network namespaces joined by a veth " +
      "(`zt-netns` is zt on that same topology; `zt` runs on loopback).",
    "",
  );
  out.push("## Machine", "");
  out.push(
    row(["cores", "CPU", "memory", "kernel", "Deno", "V8", "stunnel", "OpenSSL", "load avg start/end"]),
  );
  out.push(row(Array(9).fill("---")));
  const load = `${m.loadStart} / ${m.loadEnd ?? "?"}`;
  out.push(
    row([m.cores, m.cpu, m.memory, m.kernel, m.deno, m.v8, input.stunnelVersion, m.openssl, load]),
    "",
  );
  out.push("## Setups", "");
  out.push("Every setup uses the same load generator (bench/lg.c) and sink, as separate processes.", "");
  out.push(row(["setup", "path", "status"]), row(["---", "---", "---"]));
  for (const st of r.setups) {
    out.push(row([st.name, st.description, r.notRun[st.name] ? `not run: ${r.notRun[st.name]}` : "ran"]));
  }
  out.push("", "## Targets (zt, issue 7)", "", ...targetTable(input.targets), "");
  out.push("![zt ÷ stunnel, zt ÷ ztunnel and stunnel ÷ direct](latest.svg)", "");
  const defs = metricDefs(s);
  const notRun = Object.entries(r.notRun);
  const notRunLine = notRun.length ? `Not run: ${notRun.map(([n, why]) => `${n} (${why})`).join("; ")}.` : "";
  for (const [id, t] of Object.entries(tableDefs(s))) {
    out.push(`## ${t.title}`, "", t.note, "", ...metricTable(r, defs.filter((d) => d.table === id)), "");
    if (notRunLine) out.push(notRunLine, "");
  }
  out.push("## Config costs (zt)", "", ...configTable(r), "");
  const problems = r.setups.flatMap((st) =>
    r.problems(st.name).map((p) => `- ${st.name}, ${p.length > 400 ? p.slice(0, 400) + "…" : p}`)
  );
  if (problems.length) out.push("## Problems during the run", "", ...problems, "");
  return out.join("\n");
}
