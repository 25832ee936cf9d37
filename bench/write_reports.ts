/** Writes latest.md, latest.svg and latest.json from what a run collected. */
import type { Machine } from "./machine.ts";
import { renderMarkdown } from "./report_md.ts";
import { renderSvg } from "./report_svg.ts";
import { Results } from "./results.ts";
import type { Settings } from "./settings.ts";
import { evaluateTargets } from "./targets.ts";

export interface RunData {
  machine: Machine;
  settings: Settings;
  stunnelVersion: string;
  elapsedS: number;
  /** Set when the run stopped early. */
  interrupted?: string;
  results: Results;
}

export function writeReports(dir: string, d: RunData): string[] {
  d.results.deriveAddedRtt();
  const targets = evaluateTargets(d.results, d.settings);
  let md = renderMarkdown({ ...d, targets });
  if (d.interrupted) md = md.replace("\n## Machine", `\n**Partial report: ${d.interrupted}**\n\n## Machine`);
  const m = d.machine;
  const subtitle = `${m.cores} cores, kernel ${m.kernel}, Deno ${m.deno}; ` +
    `${d.results.runs} runs${d.settings.quick ? ", BENCH_QUICK" : ""}; ${m.date.slice(0, 16)}`;
  Deno.mkdirSync(dir, { recursive: true });
  const files = [`${dir}/latest.md`, `${dir}/latest.svg`, `${dir}/latest.json`];
  Deno.writeTextFileSync(files[0], md);
  Deno.writeTextFileSync(files[1], renderSvg(d.results, d.settings, subtitle));
  Deno.writeTextFileSync(files[2], JSON.stringify({ ...d, targets }, null, 1) + "\n");
  return files;
}

/** Reads a latest.json back (for bench/rerender.ts). */
export function readRunData(path: string): RunData {
  const j = JSON.parse(Deno.readTextFileSync(path));
  const r = new Results(j.results.runs);
  Object.assign(r, {
    setups: j.results.setups,
    notRun: j.results.notRun,
    records: j.results.records,
    config: j.results.config,
  });
  return { ...j, results: r };
}
