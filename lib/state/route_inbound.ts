/**
 * Inbound HBONE routing (ztunnel's `validate_destination` + `find_inbound_upstream`): checks a CONNECT
 * `:authority` against the pod the tunnel reached and the workloads of this node. Pure.
 *
 * Not implemented: the waypoint exception (a waypoint accepting authorities of the workloads it serves)
 * and the application-tunnel port override; hostname authorities (double HBONE) are rejected as malformed.
 */
import { canonicalIp, parseSocketAddr } from "./ip.ts";
import type { ProxyState } from "./proxy_state.ts";
import type { Target } from "./route.ts";
import { PROXY_PORTS } from "../config/ports.ts";
import type { Workload } from "./types.ts";

export type InboundRoute =
  | { readonly kind: "ok"; readonly workload: Workload; readonly target: Target }
  | { readonly kind: "reject"; readonly status: 400 | 503; readonly reason: string };

/**
 * `localIp` is the IP the HBONE connection was accepted on (the pod's), `node` this zt's node name.
 * 400 for a malformed authority, an authority IP other than `localIp`, a pod of another node, or a
 * proxy port; 503 when `localIp` is no known workload at all (the state may not have it yet).
 */
export function routeInbound(
  state: ProxyState,
  localIp: string,
  authority: string,
  node: string,
): InboundRoute {
  const addr = parseSocketAddr(authority);
  if (!addr || addr.port === 0) {
    return { kind: "reject", status: 400, reason: `malformed authority "${authority}"` };
  }
  const local = canonicalIp(localIp);
  if (local === undefined || addr.ip !== local) {
    return {
      kind: "reject",
      status: 400,
      reason: `authority ${authority} does not match destination ${localIp}`,
    };
  }
  if (PROXY_PORTS.has(addr.port)) {
    return { kind: "reject", status: 400, reason: `authority ${authority} targets a zt proxy port` };
  }
  const candidates = state.workloadsWithIp(local);
  const workload = candidates.find((w) => w.node === node);
  if (!workload) {
    const status = candidates.length === 0 ? 503 : 400;
    return { kind: "reject", status, reason: `authority ${authority} is not a local pod` };
  }
  return { kind: "ok", workload, target: { ip: local, port: addr.port } };
}
