/**
 * The decoded shape of istio.workload messages (protobufjs objects: camelCase fields, bytes as
 * Uint8Array, enums as numbers, absent sub-messages null). Only lib/state/*_from_xds.ts and tests
 * use these; the rest of zt sees lib/state/types.ts.
 */

export interface XdsNetworkAddress {
  network?: string;
  address?: Uint8Array;
  /** CIDR prefix length (proto3 optional); null/undefined for a host address. */
  length?: number | null;
}

export interface XdsNamespacedHostname {
  namespace?: string;
  hostname?: string;
}

export interface XdsGatewayAddress {
  hostname?: XdsNamespacedHostname | null;
  address?: XdsNetworkAddress | null;
  hboneMtlsPort?: number;
}

export interface XdsPort {
  servicePort?: number;
  targetPort?: number;
  appProtocol?: number;
}

export interface XdsPortList {
  ports?: XdsPort[];
}

export interface XdsExtension {
  name?: string;
  config?: { typeUrl: string; value: Uint8Array } | null;
}

export interface XdsLocality {
  region?: string;
  zone?: string;
  subzone?: string;
}

export interface XdsApplicationTunnel {
  protocol?: number;
  port?: number;
}

export interface XdsWorkload {
  uid?: string;
  name?: string;
  namespace?: string;
  addresses?: Uint8Array[];
  hostname?: string;
  network?: string;
  tunnelProtocol?: number;
  trustDomain?: string;
  serviceAccount?: string;
  waypoint?: XdsGatewayAddress | null;
  networkGateway?: XdsGatewayAddress | null;
  node?: string;
  canonicalName?: string;
  canonicalRevision?: string;
  workloadType?: number;
  workloadName?: string;
  nativeTunnel?: boolean;
  authorizationPolicies?: string[];
  status?: number;
  clusterId?: string;
  services?: Record<string, XdsPortList>;
  applicationTunnel?: XdsApplicationTunnel | null;
  locality?: XdsLocality | null;
  networkMode?: number;
  extensions?: XdsExtension[];
  capacity?: { value?: number } | null;
}

export interface XdsLoadBalancing {
  routingPreference?: number[];
  mode?: number;
  healthPolicy?: number;
}

export interface XdsWeightedWaypoint {
  destination?: XdsGatewayAddress | null;
  weight?: number;
}

export interface XdsService {
  name?: string;
  namespace?: string;
  hostname?: string;
  addresses?: XdsNetworkAddress[];
  ports?: XdsPort[];
  subjectAltNames?: string[];
  waypoint?: XdsGatewayAddress | null;
  loadBalancing?: XdsLoadBalancing | null;
  ipFamilies?: number;
  extensions?: XdsExtension[];
  canonical?: boolean;
  ingressUseWaypoint?: boolean;
  weightedWaypoints?: XdsWeightedWaypoint[];
  visibility?: number;
}

/** istio.workload.Address: exactly one of workload/service. */
export interface XdsAddress {
  workload?: XdsWorkload | null;
  service?: XdsService | null;
}
