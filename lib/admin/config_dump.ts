/**
 * ztunnel's `/config_dump` JSON (`src/admin.rs` ConfigDump + `src/state.rs` ProxyStateSerialization):
 * `workloads` sorted by uid, `services` sorted by hostname, `policies` sorted by `ns/name`,
 * `stagedServices`, then `staticConfig`, `version`, `config`, `certificates`. Keys are camelCase and
 * default-valued workload fields are omitted, as ztunnel's serde attributes do.
 */
import type {
  GatewayAddress,
  NetworkCidr,
  PortMap,
  Service,
  Workload,
  WorkloadStatus,
} from "../state/types.ts";
import { addressKey, serviceKey } from "../state/types.ts";
import type { Authorization } from "../policy/model.ts";
import { policyKey } from "../policy/model.ts";
import { policyToDump } from "../policy/dump.ts";

export interface ConfigDumpSource {
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  /** The endpoints of a service, by its `ns/hostname` key. */
  endpoints(serviceKey: string): ReadonlyArray<{ readonly workload: Workload; readonly ports: PortMap }>;
  /** `ns/hostname` → workload uid → ports: endpoints received before their service. */
  readonly stagedServices?: ReadonlyMap<string, ReadonlyMap<string, PortMap>>;
  readonly policies: readonly Authorization[];
  /** The cert manager's `dump()` entries. */
  readonly certificates: readonly unknown[];
  /** The parsed local config file, when there is one. */
  readonly staticConfig?: unknown;
  /** The runtime config (secrets already removed by the caller). */
  readonly config: object;
  readonly version: object;
  /**
   * In-pod mode's per-pod state (ztunnel `workloadState`, src/inpod/admin.rs): uid → {state: "Pending" |
   * "Up", connections (Up only): {inbound, outbound: [{src, originalDst, actualDst, protocol}]}, info:
   * {name, namespace, serviceAccount}}, addresses as `ip:port` (originalDst of inbound: the service
   * hostname or null), protocol "TCP" | "HBONE" — what istioctl ztunnel-config connections reads.
   */
  readonly workloadState?: unknown;
}

type Json = Record<string, unknown>;

/** `{"80": 8080}`. */
export function portsToDump(ports: PortMap): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [svc, target] of [...ports].sort((a, b) => a[0] - b[0])) out[String(svc)] = target;
  return out;
}

/** `{destination: "network/ip" | "ns/hostname", hboneMtlsPort}`. */
export function gatewayToDump(g: GatewayAddress): Json {
  const d = g.destination;
  return {
    destination: d.kind === "address" ? addressKey(d.address) : serviceKey(d.hostname),
    hboneMtlsPort: g.hboneMtlsPort,
  };
}

/** Sets `key` unless the value is ztunnel's default (empty string/list/record, false, undefined). */
function put(o: Json, key: string, v: unknown): void {
  if (v === undefined || v === null || v === "" || v === false) return;
  if (Array.isArray(v) && v.length === 0) return;
  if (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0) return;
  o[key] = v;
}

export function workloadToDump(w: Workload): Json {
  const o: Json = { workloadIps: [...w.workloadIps] };
  if (w.waypoint) o.waypoint = gatewayToDump(w.waypoint);
  if (w.networkGateway) o.networkGateway = gatewayToDump(w.networkGateway);
  o.protocol = w.protocol;
  o.networkMode = w.networkMode;
  put(o, "uid", w.uid);
  o.name = w.name;
  o.namespace = w.namespace;
  put(o, "trustDomain", w.trustDomain);
  put(o, "serviceAccount", w.serviceAccount);
  put(o, "network", w.network);
  put(o, "workloadName", w.workloadName);
  put(o, "workloadType", w.workloadType);
  put(o, "canonicalName", w.canonicalName);
  put(o, "canonicalRevision", w.canonicalRevision);
  put(o, "hostname", w.hostname);
  put(o, "node", w.node);
  put(o, "nativeTunnel", w.nativeTunnel);
  if (w.applicationTunnel) {
    o.applicationTunnel = { protocol: w.applicationTunnel.protocol, port: w.applicationTunnel.port ?? null };
  }
  put(o, "authorizationPolicies", [...w.authorizationPolicies]);
  o.status = w.status;
  o.clusterId = w.clusterId;
  const l = w.locality;
  if (l && (l.region || l.zone || l.subzone)) {
    o.locality = { region: l.region, zone: l.zone, subzone: l.subzone };
  }
  put(o, "services", [...w.services.keys()].sort());
  o.capacity = w.capacity;
  put(o, "labels", { ...w.labels });
  return o;
}

function isHostVip(v: NetworkCidr): boolean {
  return v.length === undefined || v.length === (v.address.includes(":") ? 128 : 32);
}

const IP_FAMILIES: Record<string, string | undefined> = {
  IPv4Only: "IPv4",
  IPv6Only: "IPv6",
  Dual: "Dual",
};

export function serviceToDump(
  s: Service,
  endpoints: ReadonlyArray<{ readonly workload: Workload; readonly ports: PortMap }>,
): Json {
  const eps: Record<string, Json> = {};
  for (const e of [...endpoints].sort((a, b) => cmp(a.workload.uid, b.workload.uid))) {
    eps[e.workload.uid] = {
      workloadUid: e.workload.uid,
      port: portsToDump(e.ports),
      status: e.workload.status,
    };
  }
  const o: Json = {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.vips.filter(isHostVip).map(addressKey),
  };
  // ztunnel's NetworkCidr serializes as a struct, unlike its `network/ip` NetworkAddress strings.
  put(
    o,
    "cidrVips",
    s.vips.filter((v) => !isHostVip(v)).map((v) => ({
      cidr: `${v.address}/${v.length}`,
      network: v.network,
    })),
  );
  o.ports = portsToDump(s.ports);
  o.endpoints = eps;
  o.subjectAltNames = [...s.subjectAltNames];
  if (s.waypoint) o.waypoint = gatewayToDump(s.waypoint);
  put(
    o,
    "weightedWaypoints",
    s.weightedWaypoints.map((w) => ({ destination: gatewayToDump(w.destination), weight: w.weight })),
  );
  if (s.loadBalancer) {
    const lb = s.loadBalancer;
    o.loadBalancer = {
      routingPreferences: [...lb.routingPreferences],
      mode: lb.mode === "UnspecifiedMode" ? "Standard" : lb.mode,
      healthPolicy: lb.healthPolicy,
    };
  }
  put(o, "ipFamilies", s.ipFamilies ? IP_FAMILIES[s.ipFamilies] : undefined);
  o.canonical = s.canonical;
  o.visibility = s.visibility; // always, Public included, as ztunnel renders it
  return o;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Converts Maps, Sets and bigints so that any config object serialises as JSON. */
export function toJsonValue(v: unknown): unknown {
  if (v instanceof Map) {
    const o: Json = {};
    for (const [k, x] of v) o[String(k)] = toJsonValue(x);
    return o;
  }
  if (v instanceof Set) return [...v].map(toJsonValue);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof URL) return v.href;
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === "object") {
    const o: Json = {};
    for (const [k, x] of Object.entries(v)) {
      if (x !== undefined && typeof x !== "function") o[k] = toJsonValue(x);
    }
    return o;
  }
  return v;
}

const EMPTY_STATIC = { workloads: [], policies: [], services: [] };

export function buildConfigDump(src: ConfigDumpSource): Json {
  const workloads = [...src.workloads].sort((a, b) => cmp(a.uid, b.uid)).map(workloadToDump);
  const services = [...src.services]
    .sort((a, b) => cmp(a.hostname, b.hostname) || cmp(a.namespace, b.namespace))
    .map((s) => serviceToDump(s, src.endpoints(serviceKey(s))));
  const policies = [...src.policies].sort((a, b) => cmp(policyKey(a), policyKey(b))).map(policyToDump);
  const status = new Map<string, WorkloadStatus>(src.workloads.map((w) => [w.uid, w.status]));
  const staged: Record<string, Record<string, Json>> = {};
  for (const [key, eps] of [...(src.stagedServices ?? [])].sort((a, b) => cmp(a[0], b[0]))) {
    const m: Record<string, Json> = {};
    for (const [uid, ports] of [...eps].sort((a, b) => cmp(a[0], b[0]))) {
      m[uid] = { workloadUid: uid, port: portsToDump(ports), status: status.get(uid) ?? "Healthy" };
    }
    staged[key] = m;
  }
  const certificates = [...src.certificates].sort((a, b) => cmp(identityOf(a), identityOf(b)));
  const dump: Json = {
    workloads,
    services,
    policies,
    stagedServices: staged,
    staticConfig: toJsonValue(src.staticConfig ?? EMPTY_STATIC),
    version: toJsonValue(src.version),
    config: toJsonValue(src.config),
    certificates: toJsonValue(certificates),
  };
  if (src.workloadState !== undefined) dump.workloadState = toJsonValue(src.workloadState);
  return dump;
}

function identityOf(c: unknown): string {
  const id = (c as { identity?: unknown } | null)?.identity;
  return typeof id === "string" ? id : "";
}
