/** Builders for state tests: full Workload/Service values from a few fields. */
import type { GatewayAddress, NetworkCidr, PortMap, Service, Workload } from "../../lib/state/types.ts";

type WorkloadInit = Partial<Omit<Workload, "services">> & {
  name: string;
  services?: Record<string, Record<number, number>> | Workload["services"];
};

export function ports(m: Record<number, number> | PortMap): PortMap {
  if (m instanceof Map) return m;
  return new Map(Object.entries(m).map(([k, v]) => [Number(k), v]));
}

export function workload(init: WorkloadInit): Workload {
  const namespace = init.namespace ?? "default";
  const services = init.services instanceof Map
    ? init.services
    : new Map(Object.entries(init.services ?? {}).map(([k, v]) => [k, ports(v)]));
  return {
    uid: `Kubernetes//Pod/${namespace}/${init.name}`,
    namespace,
    trustDomain: "cluster.local",
    serviceAccount: "default",
    workloadIps: [],
    network: "",
    protocol: "HBONE",
    node: "node-a",
    hostname: "",
    canonicalName: init.name,
    canonicalRevision: "latest",
    workloadName: init.name,
    workloadType: "deployment",
    nativeTunnel: false,
    authorizationPolicies: [],
    status: "Healthy",
    clusterId: "Kubernetes",
    networkMode: "Standard",
    capacity: 1,
    labels: {},
    annotations: {},
    ...init,
    services,
  };
}

type ServiceInit = Partial<Omit<Service, "ports" | "vips">> & {
  name: string;
  vips?: ReadonlyArray<string | NetworkCidr>;
  ports?: Record<number, number> | PortMap;
};

/** `vips` as `network/ip` or `network/ip/len` strings. */
export function service(init: ServiceInit): Service {
  const namespace = init.namespace ?? "default";
  const vips = (init.vips ?? []).map((v) => {
    if (typeof v !== "string") return v;
    const [network, address, len] = v.split("/");
    return len === undefined ? { network, address } : { network, address, length: Number(len) };
  });
  return {
    namespace,
    hostname: `${init.name}.${namespace}.svc.cluster.local`,
    subjectAltNames: [],
    weightedWaypoints: [],
    canonical: true,
    visibility: "Public",
    ...init,
    vips,
    ports: ports(init.ports ?? {}),
  };
}

export function hostnameGateway(namespace: string, hostname: string, port = 15008): GatewayAddress {
  return { destination: { kind: "hostname", hostname: { namespace, hostname } }, hboneMtlsPort: port };
}

export function addressGateway(network: string, address: string, port = 15008): GatewayAddress {
  return { destination: { kind: "address", address: { network, address } }, hboneMtlsPort: port };
}
