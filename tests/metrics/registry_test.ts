import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import {
  contentTypeFor,
  escapeLabelValue,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
} from "../../lib/metrics/registry.ts";
import { ZtError } from "../../lib/error.ts";

interface Parsed {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

function parse(text: string): Parsed[] {
  return parsePrometheus(text) as Parsed[];
}

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
  const fams = parse(text);
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

Deno.test("label values with backslash, quote and newline are escaped and parse back", () => {
  const r = new Registry();
  const nasty = 'C:\\dir\\"file"\nline2';
  r.counter({ name: "weird", help: "Help with \\ and\nnewline.", labelNames: ["path"] }).labels([nasty])
    .inc();
  const text = r.encode();
  assert.ok(text.includes(`weird_total{path="C:\\\\dir\\\\\\"file\\"\\nline2"} 1`), text);
  assert.ok(text.includes("# HELP weird_total Help with \\\\ and\\nnewline."));
  const [fam] = parse(text);
  assert.equal(fam.metrics[0].labels?.path, nasty);
  assert.equal(fam.help, "Help with \\ and\nnewline.");
  assert.equal(escapeLabelValue("plain"), "plain");
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

Deno.test("content types", () => {
  assert.equal(contentTypeFor("prometheus"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(contentTypeFor("openmetrics"), "application/openmetrics-text; version=1.0.0; charset=utf-8");
  assert.equal(PROMETHEUS_CONTENT_TYPE, contentTypeFor("prometheus"));
  assert.equal(OPENMETRICS_CONTENT_TYPE, contentTypeFor("openmetrics"));
});

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
  assert.deepEqual(parse(r.encode())[0].metrics, [{ value: "1", labels: { pod: "c", ns: "y" } }]);
  // a removed series starts again from zero
  assert.equal(f.labels(["a", "x"]).value, 0);
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
  const fams = parse(r.encode());
  assert.deepEqual(fams.map((f) => [f.name, f.metrics.length]), [["now_value", 1], ["per_id", 2], [
    "broken",
    0,
  ]]);
  assert.equal(fams[0].metrics[0].value, "9");
  assert.deepEqual(fams[1].metrics[1], { value: "2", labels: { id: "b" } });
});

Deno.test("special values are rendered in exposition spelling", () => {
  const r = new Registry();
  const g = r.gauge({ name: "g", help: "g", labelNames: ["k"] });
  g.labels(["nan"]).set(NaN);
  g.labels(["inf"]).set(Infinity);
  g.labels(["ninf"]).set(-Infinity);
  const text = r.encode();
  assert.ok(text.includes('g{k="nan"} NaN'));
  assert.ok(text.includes('g{k="inf"} +Inf'));
  assert.ok(text.includes('g{k="ninf"} -Inf'));
  assert.equal(parse(text)[0].metrics.length, 3);
});

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
  const [fam] = parse(text) as unknown as { type: string; metrics: { buckets: Record<string, string> }[] }[];
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
