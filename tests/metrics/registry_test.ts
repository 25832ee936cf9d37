/** The registry: families by name, encoded in registration order in either format. */
import assert from "node:assert/strict";
import { parseScrape } from "../fakes/prometheus_scrape.ts";
import { Registry } from "../../lib/metrics/registry.ts";
import { ZtError } from "../../lib/error.ts";

Deno.test("prometheus text parses with a real parser and round-trips values and labels", () => {
  const r = new Registry();
  const c = r.counter({ name: "requests", help: "Requests served.", labelNames: ["method", "code"] });
  c.labels(["GET", "200"]).inc();
  c.labels(["GET", "200"]).inc(41);
  c.labels(["POST", "500"]).inc(2.5);
  const g = r.gauge({ name: "temperature", help: "Degrees.", labelNames: ["room"] });
  g.labels(["hall"]).set(-3);
  g.labels(["attic"]).inc(7);
  g.labels(["attic"]).dec(2);
  const text = r.encode("prometheus");
  const fams = parseScrape(text).families;
  assert.deepEqual(fams.map((f) => [f.name, f.type]), [["requests_total", "COUNTER"], [
    "temperature",
    "GAUGE",
  ]]);
  assert.equal(fams[0].help, "Requests served.");
  assert.deepEqual(fams[0].metrics, [
    { value: "42", labels: { method: "GET", code: "200" } },
    { value: "2.5", labels: { method: "POST", code: "500" } },
  ]);
  assert.deepEqual(fams[1].metrics, [
    { value: "-3", labels: { room: "hall" } },
    { value: "5", labels: { room: "attic" } },
  ]);
  assert.match(text, /^# HELP requests_total Requests served\.\n# TYPE requests_total counter\n/);
});

Deno.test("openmetrics: counter family without _total, samples with _total, ends with # EOF", () => {
  const r = new Registry();
  r.counter({ name: "hits_total", help: "Hits.", labelNames: ["k"] }).labels(["a"]).inc(3);
  r.gauge({ name: "up", help: "Up." }).labels().set(1);
  const text = r.encode("openmetrics");
  assert.equal(
    text,
    [
      "# HELP hits Hits.",
      "# TYPE hits counter",
      'hits_total{k="a"} 3',
      "# HELP up Up.",
      "# TYPE up gauge",
      "up 1",
      "# EOF",
      "",
    ].join("\n"),
  );
  assert.ok(!r.encode("prometheus").includes("# EOF"));
});

Deno.test("wrong label arity, duplicate names, bad names and negative counter increments are ZtErrors", () => {
  const r = new Registry();
  const f = r.counter({ name: "x", help: "x", labelNames: ["a"] });
  assert.throws(() => f.labels(["1", "2"]), (e) => e instanceof ZtError && e.kind === "metrics");
  assert.throws(() => r.gauge({ name: "x", help: "dup" }), ZtError);
  assert.throws(() => r.gauge({ name: "bad-name", help: "" }), ZtError);
  assert.throws(() => r.gauge({ name: "ok", help: "", labelNames: ["bad-label"] }), ZtError);
  assert.throws(() => f.labels(["1"]).inc(-1), ZtError);
});
