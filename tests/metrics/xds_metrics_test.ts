import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { Registry } from "../../lib/metrics/registry.ts";
import { XdsMetrics } from "../../lib/metrics/xds_metrics.ts";

type Parsed = { name: string; metrics: { value: string; labels?: Record<string, string> }[] };

Deno.test("xDS terminations, messages and message bytes are counted by reason and type URL", () => {
  const r = new Registry();
  const x = new XdsMetrics(r);
  const addr = "type.googleapis.com/istio.workload.Address";
  const authz = "type.googleapis.com/istio.security.Authorization";
  x.received(addr, 1200);
  x.received(addr, 300);
  x.received(authz, 50);
  x.terminated("Reconnect");
  x.terminated("Reconnect");
  x.terminated("ConnectionError");
  const fams = new Map((parsePrometheus(r.encode()) as Parsed[]).map((f) => [f.name, f.metrics]));
  assert.deepEqual(fams.get("istio_xds_connection_terminations_total"), [
    { value: "2", labels: { reason: "Reconnect" } },
    { value: "1", labels: { reason: "ConnectionError" } },
  ]);
  assert.deepEqual(fams.get("istio_xds_message_total"), [
    { value: "2", labels: { url: addr } },
    { value: "1", labels: { url: authz } },
  ]);
  assert.deepEqual(fams.get("istio_xds_message_bytes_total"), [
    { value: "1500", labels: { url: addr } },
    { value: "50", labels: { url: authz } },
  ]);
});
