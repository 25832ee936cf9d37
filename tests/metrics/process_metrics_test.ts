import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { Registry } from "../../lib/metrics/registry.ts";
import { countOpenFds, registerProcessMetrics } from "../../lib/metrics/process_metrics.ts";

type Parsed = { name: string; metrics: { value: string }[] };

Deno.test("process metrics report open fds, RSS and the start time at scrape", async () => {
  const r = new Registry();
  registerProcessMetrics(r, { startTimeMs: 1_700_000_000_500 });
  const before = countOpenFds();
  assert.ok(before !== undefined && before > 2, `fds: ${before}`);
  // other test modules may share this process, so only a lower bound is exact
  const file = await Deno.makeTempFile();
  const opened = await Promise.all(Array.from({ length: 40 }, () => Deno.open(file)));
  try {
    const fams = new Map((parsePrometheus(r.encode()) as Parsed[]).map((f) => [f.name, f.metrics]));
    const fds = Number(fams.get("process_open_fds")![0].value);
    assert.ok(Number.isInteger(fds) && fds >= 43, `fds: ${fds}`);
    assert.ok(Number(fams.get("process_resident_memory_bytes")![0].value) > 1_000_000);
    assert.equal(fams.get("process_start_time_seconds")![0].value, "1700000000");
  } finally {
    for (const f of opened) f.close();
    await Deno.remove(file);
  }
});

Deno.test("the default start time is this process's origin", () => {
  const r = new Registry();
  registerProcessMetrics(r);
  const m = /process_start_time_seconds (\d+)/.exec(r.encode());
  const t = Number(m?.[1]);
  assert.ok(t <= Date.now() / 1000 && t > Date.now() / 1000 - 3600, String(t));
});
