/**
 * The mesh as zt sees it: workloads and services, in the camelCase shape of ztunnel's config_dump.
 * The local config file, the xDS conversion and config_dump all speak this shape; proto types stop
 * before this module.
 */

/** An IP on a network, written `network/ip` in config_dump (`/10.96.0.20` on the default network). */
export interface NetworkAddress {
  readonly network: string;
  /** Canonical text form of the IP (IPv4 dotted quad or compressed IPv6). */
  readonly address: string;
}

/** A CIDR VIP (`length` set) or a host address. */
export interface NetworkCidr extends NetworkAddress {
  readonly length?: number;
}

export interface NamespacedHostname {
  readonly namespace: string;
  readonly hostname: string;
}

/** Where a waypoint or network gateway is: by address or by service hostname. */
export type GatewayDestination =
  | { readonly kind: "address"; readonly address: NetworkAddress }
  | { readonly kind: "hostname"; readonly hostname: NamespacedHostname };

export interface GatewayAddress {
  readonly destination: GatewayDestination;
  readonly hboneMtlsPort: number;
}

export type Protocol = "HBONE" | "TCP";
export type WorkloadStatus = "Healthy" | "Unhealthy";
export type WorkloadType = "deployment" | "cronjob" | "pod" | "job";
export type NetworkMode = "Standard" | "HostNetwork";

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subzone: string;
}

export interface ApplicationTunnel {
  readonly protocol: "NONE" | "PROXY";
  readonly port?: number;
}

/** servicePort → targetPort. A target of 0 means "named port, unresolved". */
export type PortMap = ReadonlyMap<number, number>;

export interface Workload {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly trustDomain: string;
  readonly serviceAccount: string;
  readonly workloadIps: readonly string[];
  readonly network: string;
  readonly protocol: Protocol;
  readonly node: string;
  readonly hostname: string;
  readonly waypoint?: GatewayAddress;
  readonly networkGateway?: GatewayAddress;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  readonly workloadName: string;
  readonly workloadType: WorkloadType;
  readonly nativeTunnel: boolean;
  readonly applicationTunnel?: ApplicationTunnel;
  /** `ns/name` keys of policies that select this workload (selector policies, converted PeerAuthn). */
  readonly authorizationPolicies: readonly string[];
  readonly status: WorkloadStatus;
  readonly clusterId: string;
  readonly networkMode: NetworkMode;
  readonly locality?: Locality;
  /** `ns/hostname` → port map: the services this workload is an endpoint of. */
  readonly services: ReadonlyMap<string, PortMap>;
  /** Load-balancing weight; 1 when unset. */
  readonly capacity: number;
  /** Pod labels (policy selectors, telemetry `app`/`version`). zt extension for standalone mode. */
  readonly labels: Readonly<Record<string, string>>;
  /** Pod annotations (ambient redirection opt-out, sidecar status). zt extension. */
  readonly annotations: Readonly<Record<string, string>>;
  /**
   * The pod's network namespace file (e.g. /var/run/netns/sleep), for istio-cni's part on one machine
   * (`zt cni`, `zt redirect --inpod`). zt extension of the local config only: never from xDS, never in
   * config_dump, no effect on routing or policy.
   */
  readonly netns?: string;
}

export type LoadBalancingMode = "UnspecifiedMode" | "Strict" | "Failover" | "Passthrough";
export type LoadBalancingScope = "Region" | "Zone" | "Subzone" | "Node" | "Cluster" | "Network";
export type HealthPolicy = "OnlyHealthy" | "AllowAll";

export interface LoadBalancer {
  readonly routingPreferences: readonly LoadBalancingScope[];
  readonly mode: LoadBalancingMode;
  readonly healthPolicy: HealthPolicy;
}

export interface WeightedWaypoint {
  readonly destination: GatewayAddress;
  readonly weight: number;
}

export interface Service {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips: readonly NetworkCidr[];
  readonly ports: PortMap;
  readonly subjectAltNames: readonly string[];
  readonly waypoint?: GatewayAddress;
  readonly weightedWaypoints: readonly WeightedWaypoint[];
  readonly loadBalancer?: LoadBalancer;
  readonly ipFamilies?: "Automatic" | "IPv4Only" | "IPv6Only" | "Dual";
  readonly canonical: boolean;
  readonly visibility: "Public" | "Namespace";
}

/** `ns/hostname`, the key of a service in the state and on the xDS wire. */
export function serviceKey(s: NamespacedHostname): string {
  return `${s.namespace}/${s.hostname}`;
}

/** `network/ip`, the alias key of an address. */
export function addressKey(a: NetworkAddress): string {
  return `${a.network}/${a.address}`;
}
