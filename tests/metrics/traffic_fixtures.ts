/** Istio's TCP metric labels in Istio's order (written out here, independent of lib), and sample workloads. */
import type { WorkloadLike } from "../../lib/metrics/traffic_labels.ts";

export const ISTIO_ORDER = [
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
  "source_region",
  "source_zone",
  "destination_region",
  "destination_zone",
];

export const sleep: WorkloadLike = {
  uid: "Kubernetes//Pod/default/sleep-1",
  name: "sleep-1",
  namespace: "default",
  workloadName: "sleep",
  canonicalName: "sleep",
  canonicalRevision: "latest",
  clusterId: "Kubernetes",
  labels: { app: "sleep-app", version: "v1" },
};
export const httpbin: WorkloadLike = {
  uid: "Kubernetes//Pod/default/httpbin-1",
  name: "httpbin-1",
  namespace: "default",
  workloadName: "httpbin",
  canonicalName: "httpbin",
  canonicalRevision: "v2",
  clusterId: "Kubernetes",
  labels: {},
  locality: { region: "us-east1", zone: "us-east1-b" },
};
export const svc = { hostname: "httpbin.default.svc.cluster.local", name: "httpbin", namespace: "default" };
