import assert from "node:assert/strict";
import {
  TRAFFIC_LABEL_NAMES,
  trafficLabelValues,
  type WorkloadLike,
} from "../../lib/metrics/traffic_labels.ts";

const ISTIO_ORDER = [
  "reporter",
  "source_workload",
  "source_canonical_service",
  "source_canonical_revision",
  "source_workload_namespace",
  "source_principal",
  "source_app",
  "source_version",
  "source_cluster",
  "destination_service",
  "destination_service_namespace",
  "destination_service_name",
  "destination_workload",
  "destination_canonical_service",
  "destination_canonical_revision",
  "destination_workload_namespace",
  "destination_principal",
  "destination_app",
  "destination_version",
  "destination_cluster",
  "request_protocol",
  "response_flags",
  "connection_security_policy",
];

const sleep: WorkloadLike = {
  uid: "Kubernetes//Pod/default/sleep-1",
  name: "sleep-1",
  namespace: "default",
  workloadName: "sleep",
  canonicalName: "sleep",
  canonicalRevision: "latest",
  clusterId: "Kubernetes",
  labels: { app: "sleep-app", version: "v1" },
};
const httpbin: WorkloadLike = {
  uid: "Kubernetes//Pod/default/httpbin-1",
  name: "httpbin-1",
  namespace: "default",
  workloadName: "httpbin",
  canonicalName: "httpbin",
  canonicalRevision: "v2",
  clusterId: "Kubernetes",
  labels: {},
};
const svc = { hostname: "httpbin.default.svc.cluster.local", name: "httpbin", namespace: "default" };

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
  });
  const bare = trafficLabelValues({ reporter: "source", mtls: false });
  assert.equal(bare[0], "source");
  assert.deepEqual(bare.slice(1, 20), Array(19).fill("unknown"));
  assert.deepEqual(bare.slice(20), ["tcp", "-", "unknown"]);
  // workload name falls back to the pod name
  const noWl = trafficLabelValues({
    reporter: "source",
    source: { name: "pod-x", namespace: "ns" },
    mtls: false,
  });
  assert.equal(noWl[1], "pod-x");
});
