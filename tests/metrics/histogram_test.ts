/** Histograms: buckets, sum and count, the OpenMetrics unit, and refused definitions. */
import assert from "node:assert/strict";
import { parseScrape } from "../fakes/prometheus_scrape.ts";
import { Registry } from "../../lib/metrics/registry.ts";
import { ZtError } from "../../lib/error.ts";

Deno.test("histogram: cumulative buckets, +Inf, sum and count; a real parser reads them back", () => {
  const r = new Registry();
  const h = r.histogram({
    name: "rpc_duration_seconds",
    help: "Time.",
    labelNames: ["kind"],
    buckets: [0.0005, 0.001, 0.01, 0.1, 1, 5],
    unit: "seconds",
  });
  for (const v of [0.0002, 0.0005, 0.003, 0.2, 0.2, 7]) h.labels(["udp"]).observe(v);
  const text = r.encode("prometheus");
  assert.match(text, /# TYPE rpc_duration_seconds histogram\n/);
  assert.ok(text.includes('rpc_duration_seconds_bucket{kind="udp",le="0.0005"} 2\n'), text);
  assert.ok(text.includes('rpc_duration_seconds_bucket{kind="udp",le="0.001"} 2\n'));
  assert.ok(text.includes('rpc_duration_seconds_bucket{kind="udp",le="0.01"} 3\n'));
  assert.ok(text.includes('rpc_duration_seconds_bucket{kind="udp",le="1.0"} 5\n'));
  assert.ok(text.includes('rpc_duration_seconds_bucket{kind="udp",le="5.0"} 5\n'));
  assert.ok(text.includes('rpc_duration_seconds_bucket{kind="udp",le="+Inf"} 6\n'));
  assert.ok(text.includes('rpc_duration_seconds_count{kind="udp"} 6\n'));
  assert.ok(!text.includes("# UNIT"), "Prometheus 0.0.4 has no UNIT line");
  assert.ok(text.includes('rpc_duration_seconds_sum{kind="udp"} 7.4037'), text);
  // parse-prometheus-text-format reads the buckets (it drops a labelled histogram's sum and count)
  const [fam] = parseScrape(text).families as unknown as {
    type: string;
    metrics: { buckets: Record<string, string> }[];
  }[];
  assert.equal(fam.type, "HISTOGRAM");
  assert.deepEqual(fam.metrics[0].buckets, {
    "0.0005": "2",
    "0.001": "2",
    "0.01": "3",
    "0.1": "3",
    "1.0": "5",
    "5.0": "5",
    "+Inf": "6",
  });
});

Deno.test("histogram: OpenMetrics has the UNIT line and ends with EOF; no labels renders plain names", () => {
  const r = new Registry();
  r.histogram({ name: "wait_seconds", help: "W.", buckets: [1], unit: "seconds" }).labels().observe(0.5);
  assert.equal(
    r.encode("openmetrics"),
    [
      "# HELP wait_seconds W.",
      "# TYPE wait_seconds histogram",
      "# UNIT wait_seconds seconds",
      'wait_seconds_bucket{le="1.0"} 1',
      'wait_seconds_bucket{le="+Inf"} 1',
      "wait_seconds_sum 0.5",
      "wait_seconds_count 1",
      "# EOF",
      "",
    ].join("\n"),
  );
});

Deno.test("histogram: bad definitions are refused", () => {
  const r = new Registry();
  assert.throws(() => r.histogram({ name: "a_seconds", help: "", buckets: [1, 1] }), ZtError);
  assert.throws(
    () => r.histogram({ name: "b_seconds", help: "", buckets: [1], labelNames: ["le"] }),
    ZtError,
  );
  assert.throws(() => r.histogram({ name: "c", help: "", buckets: [1], unit: "seconds" }), ZtError);
});
