/** Metric families: children cached per label values, and removing series. */
import assert from "node:assert/strict";
import { parseScrape } from "../fakes/prometheus_scrape.ts";
import { Registry } from "../../lib/metrics/registry.ts";

Deno.test("children are cached per label values; remove and removeWhere drop series", () => {
  const r = new Registry();
  const f = r.counter({ name: "conns", help: "c", labelNames: ["pod", "ns"] });
  const a = f.labels(["a", "x"]);
  assert.equal(f.labels(["a", "x"]), a);
  f.labels(["b", "x"]).inc();
  f.labels(["c", "y"]).inc();
  assert.equal(f.size, 3);
  assert.equal(f.remove(["a", "x"]), true);
  assert.equal(f.remove(["a", "x"]), false);
  assert.equal(f.removeWhere((l) => l.ns === "x"), 1);
  assert.deepEqual(parseScrape(r.encode()).families[0].metrics, [{
    value: "1",
    labels: { pod: "c", ns: "y" },
  }]);
  // a removed series starts again from zero
  assert.equal(f.labels(["a", "x"]).value, 0);
});
