/**
 * Inbound HBONE: a CONNECT stream that reached a local pod. Validate the authority, authorize the
 * peer (destination-side RBAC), connect to the app, answer 200, copy bytes. Denied streams get 401
 * and never reach the app; live connections are re-checked when policies change.
 */
import type net from "node:net";
import type { Logger } from "../log/logger.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import type { Decision, RbacConnection } from "../policy/model.ts";
import type { ProxyState } from "../state/proxy_state.ts";
import { routeInbound } from "../state/route_inbound.ts";
import { workloadIdentity } from "../state/route.ts";
import { formatSocketAddr } from "../state/ip.ts";
import type { Service, Workload } from "../state/types.ts";
import { formatIdentity } from "../identity/spiffe.ts";
import type { InboundTunnel } from "../tunnel/hbone_server.ts";
import { errorMessage } from "../error.ts";
import { RelayCounter } from "./relay_counts.ts";
import { StreamRelay } from "./stream_relay.ts";
import { type ConnectionManager, newTraceId } from "./connection_manager.ts";
import type { ConnectionRecord, ConnectionReporter } from "./connection_reporter.ts";

export interface InboundDeps {
  readonly state: ProxyState;
  readonly node: string;
  readonly authorize: (target: Workload, conn: RbacConnection) => Decision;
  readonly connections: ConnectionManager;
  readonly reporter: ConnectionReporter;
  readonly log: Logger;
}

/** Where the destination pod's app is reached: its socket factory, and whether to keep the client's IP. */
export interface InboundContext {
  readonly factory: SocketFactory;
  /** Connect to the app from the client's own address (IP_TRANSPARENT worked: ztunnel's orig-src). */
  readonly spoofSource: boolean;
  /** The pod whose proxies took the connection (its connections are drained with it). */
  readonly podUid: string;
}

/** Connects to the app as ztunnel does: from the client's address when possible, within 10 s. */
export function connectApp(
  ctx: InboundContext,
  target: { ip: string; port: number },
  clientIp: string,
): Promise<net.Socket> {
  const spoof = ctx.spoofSource && clientIp !== target.ip;
  return ctx.factory.connectTcp(target, spoof ? { src: clientIp, spoof: true } : {});
}

export class InboundProxy {
  constructor(readonly deps: InboundDeps) {}

  async handle(ctx: InboundContext, t: InboundTunnel): Promise<void> {
    const d = this.deps;
    const method = header(t, ":method");
    const authority = header(t, ":authority") ?? "";
    const peerId = formatIdentity(t.peerIdentity);
    const base = {
      id: traceId(t) ?? newTraceId(),
      direction: "inbound" as const,
      srcAddr: formatSocketAddr(t.peerAddr.ip, t.peerAddr.port),
      srcIdentity: peerId,
      dstAddr: formatSocketAddr(t.localAddr.ip, t.localAddr.port),
      hboneAddr: authority,
      startedAt: performance.now(),
      mtls: true,
    };
    const srcWorkload = sourceWorkload(d.state, t);
    if (method !== "CONNECT") {
      t.respond(400);
      const rec = { ...base, srcWorkload };
      d.reporter.completed(rec, d.reporter.opened(rec), {
        sent: 0,
        recv: 0,
        error: `method ${method} is not CONNECT`,
      });
      return;
    }
    const route = routeInbound(d.state, t.localAddr.ip, authority, d.node);
    if (route.kind === "reject") {
      t.respond(route.status);
      const rec = { ...base, srcWorkload };
      d.reporter.completed(rec, d.reporter.opened(rec), {
        sent: 0,
        recv: 0,
        error: route.reason,
        responseFlags: "CONNECT",
      });
      return;
    }
    const target = route.target;
    const rec: ConnectionRecord = {
      ...base,
      srcWorkload,
      dstService: guessInboundService(d.state, route.workload, target.port),
      dstWorkload: route.workload,
      dstIdentity: workloadIdentity(route.workload),
    };
    const handle = d.reporter.opened(rec);
    const rbac: RbacConnection = {
      srcIp: t.peerAddr.ip,
      srcIdentity: t.peerIdentity,
      dstIp: target.ip,
      dstPort: target.port,
    };
    const decision = d.authorize(route.workload, rbac);
    if (!decision.allowed) {
      d.log.info("RBAC rejected", {
        conn: `${t.peerAddr.ip}(${peerId})->${formatSocketAddr(target.ip, target.port)}`,
        reason: decision.reason,
      });
      t.respond(401);
      d.reporter.completed(rec, handle, {
        sent: 0,
        recv: 0,
        error: `connection closed due to policy rejection: ${decision.reason}`,
        responseFlags: "DENY",
      });
      return;
    }
    let app: net.Socket;
    try {
      app = await connectApp(ctx, target, t.peerAddr.ip);
    } catch (e) {
      t.respond(503);
      d.reporter.completed(rec, handle, {
        sent: 0,
        recv: 0,
        error: errorMessage(e),
        responseFlags: "CONNECT",
      });
      return;
    }
    if (t.stream.isClosed) {
      // The client gave up (reset the stream) while zt was connecting: no tunnel to relay.
      app.destroy();
      d.reporter.completed(rec, handle, { sent: 0, recv: 0, error: "stream reset before the tunnel was up" });
      return;
    }
    t.respond(200);
    const rc = new RelayCounter(false);
    let error: string | undefined;
    const untrack = d.connections.register({
      id: rec.id,
      pod: ctx.podUid,
      direction: "inbound",
      src: rec.srcAddr,
      dst: formatSocketAddr(target.ip, target.port),
      hboneAddr: authority,
      srcIdentity: peerId,
      dstIdentity: rec.dstIdentity,
      startedAt: rec.startedAt,
      counts: rc,
      recheck: () => {
        const w = d.state.workload(route.workload.uid);
        if (!w) return { allowed: false, reason: "destination workload removed", dryRunMatches: [] };
        return d.authorize(w, rbac);
      },
      abort: (reason) => {
        error ??= reason;
        relay.abort(new Error(reason));
      },
    });
    const relay: StreamRelay = new StreamRelay(app, t.stream, rc, (e) => {
      if (e !== undefined) error ??= errorMessage(e);
      untrack();
      d.reporter.completed(rec, handle, { sent: rc.fromStream, recv: rc.fromConn, error });
    });
    relay.start();
  }
}

/**
 * ztunnel's `guess_inbound_service`, for the destination reporter's `destination_service`: the first
 * service of the destination workload with a port whose target port (the service's, or this
 * endpoint's for a named port) is the port the connection reached.
 */
export function guessInboundService(state: ProxyState, w: Workload, port: number): Service | undefined {
  for (const [key, endpointPorts] of w.services) {
    const svc = state.service(key);
    if (!svc) continue;
    for (const [svcPort, targetPort] of svc.ports) {
      if (targetPort === port || endpointPorts.get(svcPort) === port) return svc;
    }
  }
  return undefined;
}

/**
 * The source workload for logs and metrics: the pod owning the peer IP; else (tunnels that start on a
 * node, as in capture mode) the pod named by `forwarded: for=`, trusted only when its identity is the
 * peer's certified identity.
 */
export function sourceWorkload(state: ProxyState, t: InboundTunnel): Workload | undefined {
  const byIp = state.workloadByIp("", t.peerAddr.ip);
  if (byIp) return byIp;
  const m = /for="?\[?([0-9a-fA-F.:]+?)\]?(?::\d+)?"?(?:;|,|$)/.exec(header(t, "forwarded") ?? "");
  const claimed = m ? state.workloadByIp("", m[1]) : undefined;
  if (!claimed) return undefined;
  const id = t.peerIdentity;
  const same = claimed.trustDomain === id.trustDomain && claimed.namespace === id.namespace &&
    claimed.serviceAccount === id.serviceAccount;
  return same ? claimed : undefined;
}

function header(t: InboundTunnel, name: string): string | undefined {
  for (const [k, v] of t.headers) if (k === name) return v;
  return undefined;
}

/** The trace id of the client's `traceparent`, reused as this side's connection id. */
function traceId(t: InboundTunnel): string | undefined {
  const tp = header(t, "traceparent");
  const m = tp ? /^00-([0-9a-f]{32})-/.exec(tp) : null;
  return m ? m[1] : undefined;
}
