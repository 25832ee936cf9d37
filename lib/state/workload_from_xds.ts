/**
 * istio.workload.Address (xDS) → zt's Workload/Service, with ztunnel's defaults:
 * empty trust domain → cluster.local, empty service account → default, empty cluster id →
 * Kubernetes, unset capacity → 1, IP bytes → canonical text. Invalid input throws
 * ZtError("xds") naming the field; the xDS handler turns that into the NACK reason.
 */
import { ZtError } from "../error.ts";
import { messageCodec, typeUrlOf } from "../xds/proto.ts";
import type {
  HealthPolicy,
  LoadBalancer,
  LoadBalancingMode,
  LoadBalancingScope,
  Service,
  Workload,
} from "./types.ts";
import type { XdsAddress, XdsService, XdsWorkload } from "./workload_xds_types.ts";
import { gatewayFromXds, ipFromXds, networkCidrFromXds, portMapFromXds } from "./gateway_from_xds.ts";

export const ADDRESS_TYPE_URL: string = typeUrlOf("istio.workload.Address");

export type AddressUpdate =
  | { readonly kind: "workload"; readonly workload: Workload }
  | { readonly kind: "service"; readonly service: Service };

const addressCodec = messageCodec<XdsAddress>("istio.workload.Address");

/** Decodes an Any.value of type istio.workload.Address. Throws ZtError("xds") when malformed. */
export function decodeAddress(bytes: Uint8Array): XdsAddress {
  return addressCodec.decode(bytes);
}

/** Encodes an istio.workload.Address (protobufjs object shape); for tests, fakes and tools. */
export function encodeAddress(address: XdsAddress): Uint8Array {
  return addressCodec.encode(address);
}

/** Decode + convert one Address resource body. */
export function addressFromXdsBytes(bytes: Uint8Array): AddressUpdate {
  return addressFromXds(decodeAddress(bytes));
}

export function addressFromXds(a: XdsAddress): AddressUpdate {
  if (a.workload) return { kind: "workload", workload: workloadFromXds(a.workload) };
  if (a.service) return { kind: "service", service: serviceFromXds(a.service) };
  throw new ZtError("xds", "address: neither workload nor service is set");
}

function fail(field: string, reason: string): never {
  throw new ZtError("xds", `${field}: ${reason}`);
}

function pick<T>(field: string, table: readonly T[], v: number | undefined | null): T {
  const out = table[v ?? 0];
  if (out === undefined) fail(field, `unknown enum value ${v}`);
  return out;
}

const WORKLOAD_TYPES = ["deployment", "cronjob", "pod", "job"] as const;
const STATUSES = ["Healthy", "Unhealthy"] as const;
const NETWORK_MODES = ["Standard", "HostNetwork"] as const;
const APP_TUNNEL_PROTOCOLS = ["NONE", "PROXY"] as const;

function protocolFromXds(v: number | undefined | null): Workload["protocol"] {
  switch (v ?? 0) {
    case 0:
      return "TCP";
    case 1:
      return "HBONE";
    case 2:
      return fail("tunnel_protocol", "LEGACY_ISTIO_MTLS is not supported");
    default:
      return fail("tunnel_protocol", `unknown enum value ${v}`);
  }
}

export function workloadFromXds(w: XdsWorkload): Workload {
  const workloadIps = (w.addresses ?? []).map((b, i) => ipFromXds(`addresses[${i}]`, b));
  const services = new Map<string, ReadonlyMap<number, number>>();
  for (const [key, list] of Object.entries(w.services ?? {})) {
    services.set(key, portMapFromXds(`services[${key}].ports`, list?.ports ?? []));
  }
  const tunnel = w.applicationTunnel;
  return {
    uid: w.uid ?? "",
    name: w.name ?? "",
    namespace: w.namespace ?? "",
    trustDomain: w.trustDomain || "cluster.local",
    serviceAccount: w.serviceAccount || "default",
    workloadIps,
    network: w.network ?? "",
    protocol: protocolFromXds(w.tunnelProtocol),
    node: w.node ?? "",
    hostname: w.hostname ?? "",
    waypoint: w.waypoint ? gatewayFromXds("waypoint", w.waypoint) : undefined,
    networkGateway: w.networkGateway ? gatewayFromXds("network_gateway", w.networkGateway) : undefined,
    canonicalName: w.canonicalName ?? "",
    canonicalRevision: w.canonicalRevision ?? "",
    workloadName: w.workloadName ?? "",
    workloadType: pick("workload_type", WORKLOAD_TYPES, w.workloadType),
    nativeTunnel: w.nativeTunnel ?? false,
    applicationTunnel: tunnel
      ? {
        protocol: pick("application_tunnel.protocol", APP_TUNNEL_PROTOCOLS, tunnel.protocol),
        port: tunnel.port ? tunnel.port : undefined,
      }
      : undefined,
    authorizationPolicies: [...(w.authorizationPolicies ?? [])],
    status: pick("status", STATUSES, w.status),
    clusterId: w.clusterId || "Kubernetes",
    networkMode: pick("network_mode", NETWORK_MODES, w.networkMode),
    locality: w.locality
      ? { region: w.locality.region ?? "", zone: w.locality.zone ?? "", subzone: w.locality.subzone ?? "" }
      : undefined,
    services,
    capacity: w.capacity ? (w.capacity.value ?? 0) : 1,
    labels: {},
    annotations: {},
  };
}

const SCOPES: readonly (LoadBalancingScope | undefined)[] = [
  undefined,
  "Region",
  "Zone",
  "Subzone",
  "Node",
  "Cluster",
  "Network",
];
const LB_MODES: readonly LoadBalancingMode[] = ["UnspecifiedMode", "Strict", "Failover", "Passthrough"];
const HEALTH_POLICIES: readonly HealthPolicy[] = ["OnlyHealthy", "AllowAll"];
const IP_FAMILIES = [undefined, "IPv4Only", "IPv6Only", "Dual"] as const;
const VISIBILITIES = ["Public", "Namespace"] as const;

export function serviceFromXds(s: XdsService): Service {
  let loadBalancer: LoadBalancer | undefined;
  const lb = s.loadBalancing;
  if (lb) {
    loadBalancer = {
      routingPreferences: (lb.routingPreference ?? []).map((v, i) => {
        const scope = SCOPES[v];
        if (scope === undefined) fail(`load_balancing.routing_preference[${i}]`, `invalid scope ${v}`);
        return scope;
      }),
      mode: pick("load_balancing.mode", LB_MODES, lb.mode),
      healthPolicy: pick("load_balancing.health_policy", HEALTH_POLICIES, lb.healthPolicy),
    };
  }
  const ipFamily = s.ipFamilies ?? 0;
  if (ipFamily < 0 || ipFamily >= IP_FAMILIES.length) fail("ip_families", `unknown enum value ${ipFamily}`);
  return {
    name: s.name ?? "",
    namespace: s.namespace ?? "",
    hostname: s.hostname ?? "",
    vips: (s.addresses ?? []).map((a, i) => networkCidrFromXds(`addresses[${i}]`, a)),
    ports: portMapFromXds("ports", s.ports ?? []),
    subjectAltNames: [...(s.subjectAltNames ?? [])],
    waypoint: s.waypoint ? gatewayFromXds("waypoint", s.waypoint) : undefined,
    weightedWaypoints: (s.weightedWaypoints ?? []).map((ww, i) => {
      if (!ww.destination) fail(`weighted_waypoints[${i}].destination`, "missing");
      return {
        destination: gatewayFromXds(`weighted_waypoints[${i}].destination`, ww.destination),
        weight: ww.weight ?? 0,
      };
    }),
    loadBalancer,
    ipFamilies: IP_FAMILIES[ipFamily],
    canonical: s.canonical ?? false,
    visibility: pick("visibility", VISIBILITIES, s.visibility),
  };
}
