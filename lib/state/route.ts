/**
 * Outbound routing (ztunnel's `build_request`): where a captured connection to `dst` goes. Pure apart
 * from the load-balancer cursor; the result is plain data the outbound proxy acts on.
 */
import { formatIdentity } from "../identity/spiffe.ts";
import { canonicalIp, formatSocketAddr, ipFamily, isLoopback } from "./ip.ts";
import { LoadBalancerState, preferLocality, type Weighted } from "./load_balancer.ts";
import type { Endpoint } from "./workload_index.ts";
import type { ProxyState } from "./proxy_state.ts";
import { type GatewayAddress, type Service, serviceKey, type Workload } from "./types.ts";
import { HBONE_PORT, PROXY_PORTS } from "../config/ports.ts";

export interface Target {
  readonly ip: string;
  readonly port: number;
}

export interface HboneRoute {
  readonly kind: "hbone";
  /** Where to open (or reuse) the mTLS HTTP/2 connection: `podIP:15008` or the waypoint's HBONE port. */
  readonly connect: Target;
  /** The CONNECT `:authority`: `podIP:targetPort`, or the original `VIP:port`/`podIP:port` via a waypoint. */
  readonly authority: string;
  /** SPIFFE URIs, one of which the server certificate must carry. */
  readonly expectedIdentities: readonly string[];
  /** The workload the tunnel terminates at (the waypoint when `waypoint` is true). */
  readonly workload: Workload;
  /** The service the client addressed, if it addressed one. */
  readonly service?: Service;
  readonly waypoint: boolean;
}

export interface TcpRoute {
  readonly kind: "tcp";
  readonly target: Target;
  readonly workload: Workload;
  readonly service?: Service;
}

export interface PassthroughRoute {
  readonly kind: "passthrough";
  readonly target: Target;
}

export interface FailRoute {
  readonly kind: "fail";
  readonly reason: string;
}

export type OutboundRoute = HboneRoute | TcpRoute | PassthroughRoute | FailRoute;

export function workloadIdentity(w: Workload): string {
  return formatIdentity({
    trustDomain: w.trustDomain,
    namespace: w.namespace,
    serviceAccount: w.serviceAccount,
  });
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

function fail(reason: string): FailRoute {
  return { kind: "fail", reason };
}

/** The original IP when it is the workload's, else its first IP of the wanted family, else its first IP. */
function selectIp(w: Workload, original: string, svc?: Service): string | undefined {
  if (w.workloadIps.includes(original)) return original;
  const family = svc?.ipFamilies === "IPv4Only" ? 4 : svc?.ipFamilies === "IPv6Only" ? 6 : ipFamily(original);
  return w.workloadIps.find((ip) => ipFamily(ip) === family) ?? w.workloadIps[0];
}

/** A service endpoint's real port: the endpoint's own mapping, the service's, or (app tunnel) the service port. */
export function endpointTargetPort(ep: Endpoint, svc: Service, svcPort: number): number | undefined {
  const own = ep.ports.get(svcPort);
  if (own) return own;
  const shared = svc.ports.get(svcPort);
  if (shared) return shared;
  if (ep.workload.applicationTunnel?.port) return svcPort;
  return undefined;
}

interface Picked {
  readonly workload: Workload;
  readonly port: number;
}

/**
 * Chooses an endpoint of `svc` for `svcPort` (undefined port: waypoint resolution, no port needed):
 * healthy (unless AllowAll), with an IP on the source's network, locality-preferred, weighted round robin.
 */
function pickEndpoint(
  state: ProxyState,
  svc: Service,
  svcPort: number | undefined,
  src: Workload | undefined,
  network: string,
  lb: LoadBalancerState,
): Picked | undefined {
  const allowAll = svc.loadBalancer?.healthPolicy === "AllowAll";
  const usable: Array<Endpoint & { port: number }> = [];
  for (const ep of state.endpoints(serviceKey(svc))) {
    if (ep.workload.status !== "Healthy" && !allowAll) continue;
    if (ep.workload.workloadIps.length === 0 || ep.workload.network !== network) continue;
    const port = svcPort === undefined ? 0 : endpointTargetPort(ep, svc, svcPort);
    if (port === undefined) continue;
    usable.push({ ...ep, port });
  }
  const candidates: Weighted<Picked>[] = preferLocality(svc.loadBalancer, src, usable).map((ep) => ({
    id: ep.workload.uid,
    weight: ep.workload.capacity,
    item: { workload: ep.workload, port: ep.port },
  }));
  return lb.pick(serviceKey(svc), candidates);
}

interface ResolvedGateway {
  readonly workload: Workload;
  readonly ip: string;
  readonly identities: readonly string[];
}

function gatewayName(gw: GatewayAddress): string {
  const d = gw.destination;
  return d.kind === "address"
    ? `${d.address.network}/${d.address.address}`
    : `${d.hostname.namespace}/${d.hostname.hostname}`;
}

function gatewayService(state: ProxyState, gw: GatewayAddress, clientNs?: string): Service | undefined {
  const d = gw.destination;
  if (d.kind === "hostname") return state.service(serviceKey(d.hostname));
  return state.serviceByAddress(d.address.network, d.address.address, clientNs);
}

/** A waypoint (or gateway) address → one concrete workload and IP to tunnel to. */
function resolveGateway(
  state: ProxyState,
  gw: GatewayAddress,
  original: string,
  src: Workload | undefined,
  lb: LoadBalancerState,
): ResolvedGateway | undefined {
  const d = gw.destination;
  if (d.kind === "address") {
    const w = state.workloadByIp(d.address.network, d.address.address);
    if (w) return { workload: w, ip: d.address.address, identities: [workloadIdentity(w)] };
  }
  const svc = gatewayService(state, gw, src?.namespace);
  if (!svc) return undefined;
  const network = d.kind === "address" ? d.address.network : src?.network ?? "";
  const picked = pickEndpoint(state, svc, undefined, src, network, lb);
  if (!picked) return undefined;
  const ip = selectIp(picked.workload, d.kind === "address" ? d.address.address : original, svc);
  if (ip === undefined) return undefined;
  return {
    workload: picked.workload,
    ip,
    identities: unique([workloadIdentity(picked.workload), ...svc.subjectAltNames]),
  };
}

/** Whether `src` is one of the workloads behind a gateway address (ztunnel's `check_from_waypoint`). */
function isBehindGateway(state: ProxyState, gw: GatewayAddress, src: Workload | undefined): boolean {
  if (!src) return false;
  const d = gw.destination;
  if (d.kind === "address" && state.workloadByIp(d.address.network, d.address.address)?.uid === src.uid) {
    return true;
  }
  const svc = gatewayService(state, gw, src.namespace);
  return !!svc && state.endpoints(serviceKey(svc)).some((ep) => ep.workload.uid === src.uid);
}

function viaWaypoint(
  state: ProxyState,
  gw: GatewayAddress,
  dst: Target,
  src: Workload | undefined,
  lb: LoadBalancerState,
  service?: Service,
): OutboundRoute {
  const wp = resolveGateway(state, gw, dst.ip, src, lb);
  if (!wp) return fail(`no healthy waypoint ${gatewayName(gw)} for ${formatSocketAddr(dst.ip, dst.port)}`);
  return {
    kind: "hbone",
    connect: { ip: wp.ip, port: gw.hboneMtlsPort || HBONE_PORT },
    authority: formatSocketAddr(dst.ip, dst.port),
    expectedIdentities: wp.identities,
    workload: wp.workload,
    ...(service ? { service } : {}),
    waypoint: true,
  };
}

function direct(w: Workload, port: number, original: string, service?: Service): OutboundRoute {
  if (PROXY_PORTS.has(port)) return fail(`self call: port ${port} of ${w.uid} is a zt proxy port`);
  const ip = selectIp(w, original, service);
  if (ip === undefined) {
    return fail(`workload ${w.uid} has no IP (hostname-only workloads are not supported)`);
  }
  const svc = service ? { service } : {};
  if (w.protocol === "TCP") return { kind: "tcp", target: { ip, port }, workload: w, ...svc };
  return {
    kind: "hbone",
    connect: { ip, port: HBONE_PORT },
    authority: formatSocketAddr(ip, port),
    expectedIdentities: unique([workloadIdentity(w), ...(service?.subjectAltNames ?? [])]),
    workload: w,
    ...svc,
    waypoint: false,
  };
}

function pickServiceWaypoint(svc: Service, lb: LoadBalancerState): GatewayAddress | undefined {
  if (svc.weightedWaypoints.length > 0) {
    return lb.pick(
      `waypoint:${serviceKey(svc)}`,
      svc.weightedWaypoints.map((w, i) => ({ id: String(i), weight: w.weight, item: w.destination })),
    ) ?? svc.waypoint;
  }
  return svc.waypoint;
}

/** Decides where an outbound connection from `src` to `dst` goes. */
export function routeOutbound(
  state: ProxyState,
  src: Workload | undefined,
  dst: Target,
  lb: LoadBalancerState,
): OutboundRoute {
  const ip = canonicalIp(dst.ip);
  if (ip === undefined) return fail(`invalid destination IP "${dst.ip}"`);
  const target = { ip, port: dst.port };
  if (isLoopback(ip) && PROXY_PORTS.has(dst.port)) {
    return fail(`self call: ${formatSocketAddr(ip, dst.port)}`);
  }
  const network = src?.network ?? "";

  const wl = state.workloadByIp(network, ip);
  if (wl) {
    if (PROXY_PORTS.has(dst.port)) return fail(`self call: port ${dst.port} of ${wl.uid} is a zt proxy port`);
    if (wl.waypoint && !isBehindGateway(state, wl.waypoint, src)) {
      return viaWaypoint(state, wl.waypoint, target, src, lb);
    }
    return direct(wl, dst.port, ip);
  }

  const svc = state.serviceByAddress(network, ip, src?.namespace);
  if (!svc) return { kind: "passthrough", target };
  if (svc.loadBalancer?.mode === "Passthrough") return { kind: "passthrough", target };
  if (PROXY_PORTS.has(dst.port)) return fail(`self call: port ${dst.port} of service ${serviceKey(svc)}`);
  const waypoint = pickServiceWaypoint(svc, lb);
  if (waypoint) return viaWaypoint(state, waypoint, target, src, lb, svc);

  const picked = pickEndpoint(state, svc, dst.port, src, network, lb);
  if (!picked) {
    const key = serviceKey(svc);
    const portKnown = svc.ports.has(dst.port) || state.endpoints(key).some((ep) => ep.ports.has(dst.port));
    if (!portKnown) return fail(`service port ${dst.port} not found for service ${key}`);
    return fail(`no healthy upstream for service ${key}`);
  }
  return direct(picked.workload, picked.port, ip, svc);
}

export { LoadBalancerState };
