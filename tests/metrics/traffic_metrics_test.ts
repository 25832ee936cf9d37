import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { Registry } from "../../lib/metrics/registry.ts";
import { TrafficMetrics } from "../../lib/metrics/traffic_metrics.ts";
import type { WorkloadLike } from "../../lib/metrics/traffic_labels.ts";
import { httpbin, ISTIO_ORDER, sleep, svc } from "./traffic_fixtures.ts";

interface Parsed {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const parse = (t: string) => parsePrometheus(t) as Parsed[];
const family = (r: Registry, name: string) => parse(r.encode()).find((f) => f.name === name)!;

Deno.test("the exposition keeps Istio's label order", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  m.opened(m.labels({ reporter: "source", source: sleep, destination: httpbin, mtls: true }));
  const line = r.encode().split("\n").find((l) => l.startsWith("istio_tcp_connections_opened_total{"))!;
  const names = [...line.matchAll(/([a-z_]+)="/g)].map((x) => x[1]);
  assert.deepEqual(names, ISTIO_ORDER);
  assert.deepEqual(
    Object.keys(family(r, "istio_tcp_connections_opened_total").metrics[0].labels!),
    ISTIO_ORDER,
  );
});

Deno.test("open, bytes and close count exactly; bytes follow Istio's request/response convention", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  const h = m.labels({
    reporter: "source",
    source: sleep,
    destination: httpbin,
    destinationService: svc,
    mtls: true,
  });
  m.opened(h);
  m.opened(h); // idempotent
  assert.equal(family(r, "istio_tcp_sockets_open").metrics[0].value, "1");
  m.addBytes(h, 100, 0);
  m.addBytes(h, 20, 5000);
  // totals at close: 30 more request bytes, 0 more response bytes
  m.closed(h, { sent: 150, recv: 5000 });
  m.closed(h, { sent: 999, recv: 999 }); // idempotent
  const v = (name: string) => family(r, name).metrics.map((x) => x.value);
  assert.deepEqual(v("istio_tcp_connections_opened_total"), ["1"]);
  assert.deepEqual(v("istio_tcp_connections_closed_total"), ["1"]);
  assert.deepEqual(v("istio_tcp_received_bytes_total"), ["150"]);
  assert.deepEqual(v("istio_tcp_sent_bytes_total"), ["5000"]);
  assert.deepEqual(family(r, "istio_tcp_sockets_open").metrics, [{
    value: "0",
    labels: { reporter: "source" },
  }]);
  assert.equal(h.sentBytes, 150);
  assert.equal(h.recvBytes, 5000);
});

Deno.test("two connections with the same labels share one series", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  for (let i = 0; i < 3; i++) {
    const h = m.labels({ reporter: "destination", source: sleep, destination: httpbin, mtls: true });
    m.opened(h);
    m.addBytes(h, 10, 1);
    m.closed(h);
  }
  assert.deepEqual(family(r, "istio_tcp_connections_opened_total").metrics.map((x) => x.value), ["3"]);
  assert.deepEqual(family(r, "istio_tcp_received_bytes_total").metrics.map((x) => x.value), ["30"]);
});

Deno.test("response flags label the close and failure series only", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  const h = m.labels({ reporter: "destination", source: sleep, destination: httpbin, mtls: true });
  m.opened(h);
  m.failed(h, "DENY");
  m.closed(h, { responseFlags: "DENY" });
  const flags = (name: string) => family(r, name).metrics.map((x) => x.labels!.response_flags);
  assert.deepEqual(flags("istio_tcp_connections_opened_total"), ["-"]);
  assert.deepEqual(flags("istio_tcp_connections_closed_total"), ["DENY"]);
  assert.deepEqual(flags("istio_tcp_connections_failed_total"), ["DENY"]);
  const h2 = m.labels({ reporter: "source", mtls: false });
  m.failed(h2);
  assert.ok(flags("istio_tcp_connections_failed_total").includes("CONNECT"));
});

Deno.test("a failure closes an open connection with its flag and frees the socket", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  const h = m.labels({ reporter: "source", source: sleep, destination: httpbin, mtls: true });
  m.opened(h);
  m.failed(h, "CONNECT");
  m.closed(h, { responseFlags: "-" }); // already closed by the failure
  const metrics = (name: string) => family(r, name).metrics.map((x) => [x.labels!.response_flags, x.value]);
  assert.deepEqual(metrics("istio_tcp_connections_closed_total"), [["CONNECT", "1"]]);
  assert.deepEqual(metrics("istio_tcp_connections_failed_total"), [["CONNECT", "1"]]);
  assert.equal(family(r, "istio_tcp_sockets_open").metrics[0].value, "0");
  // never opened: only the failure is counted
  const early = m.labels({ reporter: "destination", mtls: false });
  m.failed(early, "DENY");
  assert.deepEqual(metrics("istio_tcp_connections_closed_total"), [["CONNECT", "1"]]);
  assert.equal(family(r, "istio_tcp_connections_failed_total").metrics.length, 2);
});

Deno.test("forgetting a gone pod drops every series naming it, keeps others", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  const other: WorkloadLike = { ...sleep, uid: "uid-other", name: "other-1", workloadName: "other" };
  for (const src of [sleep, other]) {
    const h = m.labels({ reporter: "source", source: src, destination: httpbin, mtls: true });
    m.opened(h);
    m.addBytes(h, 1, 1);
    m.closed(h, { responseFlags: src === sleep ? "CONNECT" : "-" });
  }
  assert.equal(family(r, "istio_tcp_connections_opened_total").metrics.length, 2);
  assert.equal(m.forgetWorkload(sleep.uid!), 1);
  for (
    const name of [
      "istio_tcp_connections_opened_total",
      "istio_tcp_connections_closed_total",
      "istio_tcp_received_bytes_total",
      "istio_tcp_sent_bytes_total",
    ]
  ) {
    const ms = family(r, name).metrics;
    assert.deepEqual(ms.map((x) => x.labels!.source_workload), ["other"], name);
  }
  // the destination pod going away drops the rest; by namespace/name works too
  assert.equal(m.forgetWorkload({ namespace: "default", name: "httpbin-1" }), 1);
  assert.equal(family(r, "istio_tcp_connections_opened_total").metrics.length, 0);
  assert.equal(m.forgetWorkload("never-seen"), 0);
});

Deno.test("a series survives while another live pod of the same workload is named", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  const sleep2: WorkloadLike = { ...sleep, uid: "Kubernetes//Pod/default/sleep-2", name: "sleep-2" };
  for (const src of [sleep, sleep2]) {
    const h = m.labels({ reporter: "source", source: src, destination: httpbin, mtls: true });
    m.opened(h);
  }
  assert.equal(family(r, "istio_tcp_connections_opened_total").metrics[0].value, "2");
  assert.equal(m.forgetWorkload(sleep.uid!), 0);
  assert.equal(family(r, "istio_tcp_connections_opened_total").metrics[0].value, "2");
  assert.equal(m.forgetWorkload(sleep2.uid!), 1);
  assert.equal(family(r, "istio_tcp_connections_opened_total").metrics.length, 0);
});

Deno.test("connections with equal labels share one values array and one set of counters", () => {
  const r = new Registry();
  const m = new TrafficMetrics(r);
  const input = { reporter: "source" as const, source: sleep, destination: httpbin, mtls: true };
  const a = m.labels(input);
  const b = m.labels({ ...input });
  assert.equal(a.values, b.values, "values interned");
  assert.equal(a.series, b.series, "counter children interned");
  const other = m.labels({ ...input, mtls: false });
  assert.notEqual(other.values, a.values);
  // Shared children still count every connection, and byte totals stay per handle.
  m.opened(a);
  m.opened(b);
  m.addBytes(a, 10, 0);
  m.addBytes(b, 5, 0);
  assert.equal(a.sentBytes, 10);
  assert.equal(b.sentBytes, 5);
  const opened = family(r, "istio_tcp_connections_opened_total").metrics;
  assert.deepEqual(
    opened.map((x) => x.value).sort(),
    ["0", "2"],
    "two opens on the shared series, none on the other",
  );
  // A forgotten workload drops the interned entry too: a new connection gets fresh children.
  m.forgetWorkload(sleep.uid!);
  const c = m.labels({ ...input });
  assert.notEqual(c.series, a.series);
});
