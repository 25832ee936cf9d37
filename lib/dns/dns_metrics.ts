/**
 * ztunnel's DNS metrics (registered only when the DNS proxy is on): requests, forwarded requests,
 * forwarding failures and the forwarding time, labelled with the query type (lowercase), the transport
 * and the asking pod's canonical service and revision ("unknown" when empty or the pod is unknown).
 */
import type { CounterFamily } from "../metrics/metric_family.ts";
import type { HistogramFamily } from "../metrics/histogram.ts";
import type { Registry } from "../metrics/registry.ts";
import type { Workload } from "../state/types.ts";
import { typeName } from "./dns_types.ts";

export const DNS_DURATION_BUCKETS = [0.0005, 0.001, 0.01, 0.1, 1, 5] as const;

const LABELS = [
  "request_query_type",
  "request_protocol",
  "source_canonical_service",
  "source_canonical_revision",
];

export type DnsProtocol = "udp" | "tcp";

/** A type's label: its mnemonic lowercased; types without one are "other" (bounded cardinality). */
export function queryTypeLabel(qtype: number | undefined): string {
  if (qtype === undefined) return "unknown";
  const name = typeName(qtype);
  return name.startsWith("TYPE") ? "other" : name.toLowerCase();
}

const orUnknown = (v: string | undefined) => (v ? v : "unknown");

export class DnsMetrics {
  readonly requests: CounterFamily;
  readonly upstreamRequests: CounterFamily;
  readonly upstreamFailures: CounterFamily;
  readonly upstreamDuration: HistogramFamily;

  constructor(registry: Registry) {
    this.requests = registry.counter({
      name: "istio_dns_requests",
      help: "Total number of DNS requests (unstable)",
      labelNames: LABELS,
    });
    this.upstreamRequests = registry.counter({
      name: "istio_dns_upstream_requests",
      help: "Total number of DNS requests forwarded to upstream (unstable)",
      labelNames: LABELS,
    });
    this.upstreamFailures = registry.counter({
      name: "istio_dns_upstream_failures",
      help: "Total number of DNS requests that failed to forward upstream (unstable)",
      labelNames: LABELS,
    });
    this.upstreamDuration = registry.histogram({
      name: "istio_dns_upstream_request_duration_seconds",
      help: "Total time in seconds Istio takes to get DNS response from upstream (unstable)",
      labelNames: LABELS,
      buckets: DNS_DURATION_BUCKETS,
      unit: "seconds",
    });
  }

  /** The label values for one request. */
  static labels(qtype: number | undefined, protocol: DnsProtocol, source: Workload | undefined): string[] {
    return [
      queryTypeLabel(qtype),
      protocol,
      orUnknown(source?.canonicalName),
      orUnknown(source?.canonicalRevision),
    ];
  }

  request(labels: readonly string[]): void {
    this.requests.labels(labels).inc();
  }

  /** One forwarded request: counted, timed, and counted again if it failed. */
  forwarded(labels: readonly string[], seconds: number, failed: boolean): void {
    this.upstreamRequests.labels(labels).inc();
    this.upstreamDuration.labels(labels).observe(seconds);
    if (failed) this.upstreamFailures.labels(labels).inc();
  }
}
