import assert from "node:assert/strict";
import { TRAFFIC_LABEL_NAMES, trafficLabelValues } from "../../lib/metrics/traffic_labels.ts";
import { httpbin, ISTIO_ORDER, sleep, svc } from "./traffic_fixtures.ts";

Deno.test("label names are exactly Istio's, in Istio's order", () => {
  assert.deepEqual([...TRAFFIC_LABEL_NAMES], ISTIO_ORDER);
});

Deno.test("labels are derived from workloads, principals and the service; unknowns are 'unknown'", () => {
  const v = trafficLabelValues({
    reporter: "destination",
    source: sleep,
    sourcePrincipal: "spiffe://cluster.local/ns/default/sa/sleep",
    destination: httpbin,
    destinationService: svc,
    destinationPrincipal: "spiffe://cluster.local/ns/default/sa/httpbin",
    mtls: true,
  });
  const labels = Object.fromEntries(ISTIO_ORDER.map((n, i) => [n, v[i]]));
  assert.deepEqual(labels, {
    reporter: "destination",
    source_workload: "sleep",
    source_canonical_service: "sleep",
    source_canonical_revision: "latest",
    source_workload_namespace: "default",
    source_principal: "spiffe://cluster.local/ns/default/sa/sleep",
    source_app: "sleep-app",
    source_version: "v1",
    source_cluster: "Kubernetes",
    destination_service: "httpbin.default.svc.cluster.local",
    destination_service_namespace: "default",
    destination_service_name: "httpbin",
    destination_workload: "httpbin",
    destination_canonical_service: "httpbin",
    destination_canonical_revision: "v2",
    destination_workload_namespace: "default",
    destination_principal: "spiffe://cluster.local/ns/default/sa/httpbin",
    destination_app: "httpbin",
    destination_version: "v2",
    destination_cluster: "Kubernetes",
    request_protocol: "tcp",
    response_flags: "-",
    connection_security_policy: "mutual_tls",
    source_region: "unknown",
    source_zone: "unknown",
    destination_region: "us-east1",
    destination_zone: "us-east1-b",
  });
  const bare = trafficLabelValues({ reporter: "source", mtls: false });
  assert.equal(bare[0], "source");
  assert.deepEqual(bare.slice(1, 20), Array(19).fill("unknown"));
  assert.deepEqual(bare.slice(20), ["tcp", "-", "unknown", "unknown", "unknown", "unknown", "unknown"]);
  // workload name falls back to the pod name
  const noWl = trafficLabelValues({
    reporter: "source",
    source: { name: "pod-x", namespace: "ns" },
    mtls: false,
  });
  assert.equal(noWl[1], "pod-x");
});
