/**
 * The label set of Istio's TCP metrics: exactly ztunnel's `CommonTrafficLabels` (names and order,
 * its `LocalityLabels` last), and how a connection's workloads, principals and service map onto it.
 * Unknowns are `unknown`, `request_protocol` is always `tcp`. ztunnel leaves the four locality labels
 * out only when it knows neither workload; zt always writes them.
 */
export const TRAFFIC_LABEL_NAMES = [
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
] as const;

export const FLAGS_INDEX = TRAFFIC_LABEL_NAMES.indexOf("response_flags");
const UNKNOWN = "unknown";

export type Reporter = "source" | "destination";

/** The workload fields the labels are derived from; zt's `Workload` satisfies it. */
export interface WorkloadLike {
  readonly uid?: string;
  readonly name: string;
  readonly namespace: string;
  readonly workloadName?: string;
  readonly canonicalName?: string;
  readonly canonicalRevision?: string;
  readonly clusterId?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly locality?: { readonly region: string; readonly zone: string };
}

export interface TrafficLabelsInput {
  readonly reporter: Reporter;
  readonly source?: WorkloadLike;
  /** SPIFFE URI of the peer (only known from mTLS). */
  readonly sourcePrincipal?: string;
  readonly destination?: WorkloadLike;
  readonly destinationService?: {
    readonly hostname: string;
    readonly name: string;
    readonly namespace: string;
  };
  readonly destinationPrincipal?: string;
  /** `-` (default), `DENY`, `CONNECT`, ... */
  readonly responseFlags?: string;
  readonly mtls: boolean;
}

function orUnknown(v: string | undefined): string {
  return v ? v : UNKNOWN;
}

function workloadValues(w: WorkloadLike | undefined, principal: string | undefined): string[] {
  if (!w) return [UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, orUnknown(principal), UNKNOWN, UNKNOWN, UNKNOWN];
  const labels = w.labels ?? {};
  return [
    orUnknown(w.workloadName || w.name),
    orUnknown(w.canonicalName),
    orUnknown(w.canonicalRevision),
    orUnknown(w.namespace),
    orUnknown(principal),
    orUnknown(labels["app"] || labels["app.kubernetes.io/name"] || w.canonicalName),
    orUnknown(labels["version"] || labels["app.kubernetes.io/version"] || w.canonicalRevision),
    orUnknown(w.clusterId),
  ];
}

/** The label values, in `TRAFFIC_LABEL_NAMES` order, for a connection. */
export function trafficLabelValues(input: TrafficLabelsInput): string[] {
  const svc = input.destinationService;
  const dst = workloadValues(input.destination, input.destinationPrincipal);
  return [
    input.reporter,
    ...workloadValues(input.source, input.sourcePrincipal),
    orUnknown(svc?.hostname),
    orUnknown(svc?.namespace),
    orUnknown(svc?.name),
    ...dst,
    "tcp",
    input.responseFlags || "-",
    input.mtls ? "mutual_tls" : UNKNOWN,
    orUnknown(input.source?.locality?.region),
    orUnknown(input.source?.locality?.zone),
    orUnknown(input.destination?.locality?.region),
    orUnknown(input.destination?.locality?.zone),
  ];
}
