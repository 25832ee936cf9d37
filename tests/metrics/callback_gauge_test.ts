/** Callback gauges: samples computed at scrape. */
import assert from "node:assert/strict";
import { parseScrape } from "../fakes/prometheus_scrape.ts";
import { Registry } from "../../lib/metrics/registry.ts";

Deno.test("callback gauges are computed at scrape; failures yield no samples", () => {
  const r = new Registry();
  let n = 1;
  r.callbackGauge({ name: "now_value", help: "v", collect: () => n });
  r.callbackGauge({
    name: "per_id",
    help: "v",
    labelNames: ["id"],
    collect: () => [[["a"], 1], [["b"], 2]],
  });
  r.callbackGauge({
    name: "broken",
    help: "v",
    collect: () => {
      throw new Error("boom");
    },
  });
  n = 9;
  const fams = parseScrape(r.encode()).families;
  assert.deepEqual(fams.map((f) => [f.name, f.metrics.length]), [["now_value", 1], ["per_id", 2], [
    "broken",
    0,
  ]]);
  assert.equal(fams[0].metrics[0].value, "9");
  assert.deepEqual(fams[1].metrics[1], { value: "2", labels: { id: "b" } });
});
