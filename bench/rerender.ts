/**
 * Re-renders bench/results/latest.md and latest.svg from latest.json (no measuring), e.g. after
 * changing the report code: `deno run -A bench/rerender.ts [path/to/latest.json]`.
 */
import { readRunData, writeReports } from "./write_reports.ts";

const dir = new URL("./results", import.meta.url).pathname;
const path = Deno.args[0] ?? `${dir}/latest.json`;
const data = readRunData(path);
console.error(`wrote ${writeReports(dir, data).join(", ")}`);
