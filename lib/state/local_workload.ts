/**
 * One `workloads:` entry of the local config file → a {@link Workload}, with ztunnel's defaults.
 *
 * Defaults: serviceAccount "default", trustDomain "cluster.local", protocol TCP, status Healthy,
 * clusterId "Kubernetes", networkMode Standard, workloadType deployment, capacity 1,
 * uid `<clusterId>//Pod/<namespace>/<name>`, workloadName = name, canonicalName from the labels
 * `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`, else workloadName,
 * canonicalRevision from `service.istio.io/canonical-revision`, `app.kubernetes.io/version`, `version`,
 * else "latest". `netns` (zt extension): the pod's network namespace file, for `zt cni` and
 * `zt redirect --inpod` only.
 */
import {
  configError,
  expectAbsolutePath,
  expectBool,
  expectEnum,
  expectFields,
  expectGateway,
  expectInt,
  expectIp,
  expectList,
  expectPortMap,
  expectString,
  expectStringList,
  expectStringMap,
  isMapping,
  required,
} from "./config_fields.ts";
import type { ApplicationTunnel, Locality, PortMap, Workload, WorkloadType } from "./types.ts";

const FIELDS = [
  "uid",
  "name",
  "namespace",
  "serviceAccount",
  "trustDomain",
  "workloadIps",
  "protocol",
  "node",
  "network",
  "hostname",
  "waypoint",
  "networkGateway",
  "canonicalName",
  "canonicalRevision",
  "workloadName",
  "workloadType",
  "nativeTunnel",
  "applicationTunnel",
  "authorizationPolicies",
  "status",
  "clusterId",
  "networkMode",
  "locality",
  "services",
  "capacity",
  "labels",
  "annotations",
  "netns",
] as const;

const WORKLOAD_TYPES: readonly WorkloadType[] = ["deployment", "cronjob", "pod", "job"];

function str(o: Record<string, unknown>, key: string, at: string, def: string): string {
  return o[key] === undefined ? def : expectString(o[key], `${at}.${key}`);
}

function parseLocality(v: unknown, at: string): Locality {
  const o = expectFields(v, at, ["region", "zone", "subzone"]);
  return {
    region: str(o, "region", at, ""),
    zone: str(o, "zone", at, ""),
    subzone: str(o, "subzone", at, ""),
  };
}

function parseAppTunnel(v: unknown, at: string): ApplicationTunnel {
  const o = expectFields(v, at, ["protocol", "port"]);
  const protocol = o.protocol === undefined
    ? "NONE"
    : expectEnum(o.protocol, `${at}.protocol`, ["NONE", "PROXY"] as const);
  if (o.port === undefined) return { protocol };
  return { protocol, port: expectInt(o.port, `${at}.port`, 1, 65535) };
}

/** `{"ns/host": {svcPort: targetPort}}`, or config_dump's `["ns/host"]` (no port overrides). */
function parseServices(v: unknown, at: string): Map<string, PortMap> {
  const out = new Map<string, PortMap>();
  const check = (key: string, kat: string) => {
    const slash = key.indexOf("/");
    if (slash <= 0 || slash === key.length - 1) {
      throw configError(kat, `key "${key}" is not "namespace/hostname"`);
    }
  };
  if (Array.isArray(v)) {
    expectStringList(v, at).forEach((key, i) => {
      check(key, `${at}[${i}]`);
      out.set(key, new Map());
    });
    return out;
  }
  if (!isMapping(v)) throw configError(at, `expected a mapping of "namespace/hostname" to port maps`);
  for (const [key, ports] of Object.entries(v)) {
    check(key, at);
    out.set(key, ports === null ? new Map() : expectPortMap(ports, `${at}["${key}"]`));
  }
  return out;
}

function firstLabel(labels: Record<string, string>, keys: string[]): string | undefined {
  for (const k of keys) if (labels[k]) return labels[k];
  return undefined;
}

export function parseLocalWorkload(raw: unknown, at: string): Workload {
  const o = expectFields(raw, at, FIELDS);
  const namespace = expectString(required(o, "namespace", at), `${at}.namespace`);
  const workloadIps = expectList(required(o, "workloadIps", at), `${at}.workloadIps`).map((ip, i) =>
    expectIp(ip, `${at}.workloadIps[${i}]`)
  );
  const name = str(o, "name", at, "");
  const clusterId = str(o, "clusterId", at, "Kubernetes");
  if (o.uid === undefined && name === "") {
    throw configError(at, `missing required field "uid" (or "name" to derive it)`);
  }
  const uid = str(o, "uid", at, `${clusterId}//Pod/${namespace}/${name}`);
  const labels = o.labels === undefined ? {} : expectStringMap(o.labels, `${at}.labels`);
  const annotations = o.annotations === undefined ? {} : expectStringMap(o.annotations, `${at}.annotations`);
  const workloadName = str(o, "workloadName", at, name);
  const canonicalName = str(
    o,
    "canonicalName",
    at,
    firstLabel(labels, ["service.istio.io/canonical-name", "app.kubernetes.io/name", "app"]) ?? workloadName,
  );
  const canonicalRevision = str(
    o,
    "canonicalRevision",
    at,
    firstLabel(labels, ["service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"]) ??
      "latest",
  );
  const workloadType = o.workloadType === undefined ? "deployment" : expectEnum(
    typeof o.workloadType === "string" ? o.workloadType.toLowerCase() : o.workloadType,
    `${at}.workloadType`,
    WORKLOAD_TYPES,
  );
  const policies = o.authorizationPolicies === undefined
    ? []
    : expectStringList(o.authorizationPolicies, `${at}.authorizationPolicies`);
  return {
    uid,
    name,
    namespace,
    trustDomain: str(o, "trustDomain", at, "cluster.local"),
    serviceAccount: str(o, "serviceAccount", at, "default"),
    workloadIps,
    network: str(o, "network", at, ""),
    protocol: o.protocol === undefined
      ? "TCP"
      : expectEnum(o.protocol, `${at}.protocol`, ["HBONE", "TCP"] as const),
    node: str(o, "node", at, ""),
    hostname: str(o, "hostname", at, ""),
    ...(o.waypoint === undefined ? {} : { waypoint: expectGateway(o.waypoint, `${at}.waypoint`) }),
    ...(o.networkGateway === undefined
      ? {}
      : { networkGateway: expectGateway(o.networkGateway, `${at}.networkGateway`) }),
    canonicalName,
    canonicalRevision,
    workloadName,
    workloadType,
    nativeTunnel: o.nativeTunnel === undefined ? false : expectBool(o.nativeTunnel, `${at}.nativeTunnel`),
    ...(o.applicationTunnel === undefined
      ? {}
      : { applicationTunnel: parseAppTunnel(o.applicationTunnel, `${at}.applicationTunnel`) }),
    authorizationPolicies: policies,
    status: o.status === undefined
      ? "Healthy"
      : expectEnum(o.status, `${at}.status`, ["Healthy", "Unhealthy"] as const),
    clusterId,
    networkMode: o.networkMode === undefined
      ? "Standard"
      : expectEnum(o.networkMode, `${at}.networkMode`, ["Standard", "HostNetwork"] as const),
    ...(o.locality === undefined ? {} : { locality: parseLocality(o.locality, `${at}.locality`) }),
    services: o.services === undefined ? new Map() : parseServices(o.services, `${at}.services`),
    capacity: o.capacity === undefined ? 1 : expectInt(o.capacity, `${at}.capacity`, 0, 0xffffffff),
    labels,
    annotations,
    ...(o.netns === undefined ? {} : { netns: expectAbsolutePath(o.netns, `${at}.netns`) }),
  };
}
