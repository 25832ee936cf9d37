/**
 * Outbound: a local pod's connection to a destination. Decide the route (pure, in state/), open the
 * upstream (pooled HBONE or plain TCP), then copy bytes. The caller (SOCKS5 or capture) learns the
 * outcome before any byte flows, so it can answer its client precisely.
 */
import type net from "node:net";
import type { Logger } from "../log/logger.ts";
import { ConnectError, type SocketFactory } from "../net/socket_factory.ts";
import type { ProxyState } from "../state/proxy_state.ts";
import {
  type LoadBalancerState,
  type OutboundRoute,
  routeOutbound,
  workloadIdentity,
} from "../state/route.ts";
import type { Workload } from "../state/types.ts";
import { canonicalIp, formatSocketAddr, isLoopback } from "../state/ip.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import type { Identity } from "../identity/spiffe.ts";
import { HboneConnectError, type HbonePool } from "../tunnel/hbone_pool.ts";
import type { H2Stream } from "../tunnel/h2/stream.ts";
import { errorMessage } from "../error.ts";
import { RelayCounter } from "./relay_counts.ts";
import { SocketRelay } from "./socket_relay.ts";
import { StreamRelay } from "./stream_relay.ts";
import { type ConnectionManager, newTraceId } from "./connection_manager.ts";
import type { ConnectionRecord, ConnectionReporter } from "./connection_reporter.ts";

export interface OutboundDeps {
  readonly state: ProxyState;
  readonly lb: LoadBalancerState;
  readonly pool: HbonePool;
  readonly certs: { get(id: Identity): Promise<WorkloadCertificate> };
  readonly connections: ConnectionManager;
  readonly reporter: ConnectionReporter;
  readonly log: Logger;
}

/** How an outbound attempt ended before relaying: the caller maps it to its protocol (SOCKS5 codes). */
export type OutboundOutcome =
  | { readonly kind: "ok" }
  | { readonly kind: "no_route"; readonly reason: string }
  | { readonly kind: "denied"; readonly reason: string }
  | { readonly kind: "unavailable"; readonly reason: string }
  | { readonly kind: "refused"; readonly reason: string }
  | { readonly kind: "failed"; readonly reason: string };

type Upstream =
  | { kind: "hbone"; stream: H2Stream }
  | { kind: "tcp"; conn: net.Socket };

/** Where an outbound connection starts: the source pod's socket factory (its netns and mark). */
export interface OutboundContext {
  readonly factory: SocketFactory;
  /** The pod whose proxies took the connection (its connections are drained with it). */
  readonly podUid: string;
  /**
   * The pod's own IP when zt's netns owns it (pod listeners on the pod's IP): HBONE dials bind it, so the
   * destination sees the pod's address, as from ztunnel's in-pod sockets.
   */
  readonly sourceIp?: string;
}

export class OutboundProxy {
  constructor(readonly deps: OutboundDeps) {}

  /**
   * Proxies `client` (already accepted, handshake done) from local pod `src` to `dst`. `ready` is
   * called with the outcome before bytes flow; `prefix` holds client bytes already read.
   */
  async handle(
    ctx: OutboundContext,
    src: Workload,
    client: net.Socket,
    dst: { ip: string; port: number },
    ready: (o: OutboundOutcome) => Promise<void>,
    prefix?: Uint8Array,
  ): Promise<void> {
    const d = this.deps;
    const route = routeOutbound(d.state, src, dst, d.lb);
    const clientIp = canonicalIp(client.remoteAddress ?? "") ?? client.remoteAddress ?? "";
    const rec = record(src, route, formatSocketAddr(clientIp, client.remotePort ?? 0), dst);
    const handle = d.reporter.opened(rec);
    let upstream: Upstream;
    try {
      upstream = await this.#open(ctx, src, route, rec);
    } catch (e) {
      const outcome = e instanceof OutboundFailure
        ? e.outcome
        : { kind: "failed" as const, reason: errorMessage(e) };
      d.reporter.completed(rec, handle, {
        sent: 0,
        recv: 0,
        error: outcome.kind === "no_route" ? outcome.reason : `${outcome.reason}`,
        responseFlags: outcome.kind === "denied" ? "DENY" : "CONNECT",
      });
      await ready(outcome).catch(() => {});
      client.destroy();
      return;
    }
    const rc = new RelayCounter(true);
    const tc = { sent: 0, recv: 0 };
    const counts = upstream.kind === "hbone" ? rc : tc;
    let error: string | undefined;
    let relay: StreamRelay | SocketRelay | undefined;
    const abort = (reason: string) => {
      error ??= reason;
      if (relay) return relay.abort(new Error(reason));
      if (upstream.kind === "hbone") upstream.stream.reset();
      else upstream.conn.destroy();
      client.destroy();
    };
    const untrack = d.connections.register({
      id: rec.id,
      pod: ctx.podUid,
      direction: "outbound",
      src: rec.srcAddr,
      dst: rec.dstAddr,
      hboneAddr: rec.hboneAddr,
      srcIdentity: rec.srcIdentity,
      dstIdentity: rec.dstIdentity,
      startedAt: rec.startedAt,
      counts,
      abort,
    });
    // Completion is a callback, not an await: an idle connection keeps no suspended function alive.
    const finish = (e: unknown) => {
      if (e !== undefined) error ??= errorMessage(e);
      untrack();
      d.reporter.completed(rec, handle, { sent: counts.sent, recv: counts.recv, error });
    };
    try {
      await ready({ kind: "ok" });
    } catch (e) {
      abort(errorMessage(e));
      finish(undefined);
      return;
    }
    if (upstream.kind === "hbone") relay = new StreamRelay(client, upstream.stream, rc, finish);
    else relay = new SocketRelay(client, upstream.conn, tc, finish);
    relay.start(prefix);
  }

  async #open(
    ctx: OutboundContext,
    src: Workload,
    route: OutboundRoute,
    rec: ConnectionRecord,
  ): Promise<Upstream> {
    const d = this.deps;
    switch (route.kind) {
      case "fail":
        throw new OutboundFailure({ kind: "no_route", reason: route.reason });
      case "tcp":
      case "passthrough":
        try {
          const conn = await ctx.factory.connectTcp(route.target);
          return { kind: "tcp", conn };
        } catch (e) {
          const refused = e instanceof ConnectError && e.failure === "refused";
          throw new OutboundFailure({ kind: refused ? "refused" : "failed", reason: errorMessage(e) });
        }
      case "hbone": {
        const cert = await d.certs.get({
          trustDomain: src.trustDomain,
          namespace: src.namespace,
          serviceAccount: src.serviceAccount,
        }).catch((e) => {
          throw new OutboundFailure({
            kind: "failed",
            reason: `no certificate for source: ${errorMessage(e)}`,
          });
        });
        const headers: Array<[string, string]> = [
          ["forwarded", `for="${rec.srcAddr}"${route.service ? `;host=${route.service.hostname}` : ""}`],
          ["traceparent", `00-${rec.id}-${rec.id.slice(0, 16)}-00`],
        ];
        const baggage = baggageOf(src);
        if (baggage) headers.unshift(["baggage", baggage]);
        let res;
        try {
          res = await d.pool.connect(
            {
              cert,
              expectedIdentities: route.expectedIdentities,
              ip: route.connect.ip,
              port: route.connect.port,
              factory: ctx.factory,
              srcIp: ctx.factory.netns ? undefined : ctx.sourceIp ?? src.workloadIps.find(isLoopback),
            },
            route.authority,
            headers,
          );
        } catch (e) {
          const reason = errorMessage(e);
          if (e instanceof HboneConnectError && e.failure === "refused") {
            throw new OutboundFailure({ kind: "refused", reason });
          }
          if (e instanceof HboneConnectError && e.failure === "unreachable") {
            throw new OutboundFailure({ kind: "no_route", reason });
          }
          throw new OutboundFailure({ kind: "failed", reason });
        }
        if (res.status === 200) return { kind: "hbone", stream: res.stream };
        res.stream.reset();
        const reason = `http status: ${res.status} ${STATUS_TEXT[res.status] ?? ""}`.trim();
        if (res.status === 401) throw new OutboundFailure({ kind: "denied", reason });
        if (res.status === 503) throw new OutboundFailure({ kind: "unavailable", reason });
        throw new OutboundFailure({ kind: "failed", reason });
      }
    }
  }
}

class OutboundFailure extends Error {
  constructor(readonly outcome: Exclude<OutboundOutcome, { kind: "ok" }>) {
    super(outcome.reason);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  503: "Service Unavailable",
};

function record(
  src: Workload,
  route: OutboundRoute,
  srcAddr: string,
  dst: { ip: string; port: number },
): ConnectionRecord {
  const base = {
    id: newTraceId(),
    direction: "outbound" as const,
    srcAddr,
    srcWorkload: src,
    startedAt: performance.now(),
  };
  switch (route.kind) {
    case "hbone":
      return {
        ...base,
        srcIdentity: workloadIdentity(src),
        dstAddr: formatSocketAddr(route.connect.ip, route.connect.port),
        hboneAddr: route.authority,
        dstService: route.service,
        dstWorkload: route.workload,
        dstIdentity: route.expectedIdentities[0],
        mtls: true,
      };
    case "tcp":
      return {
        ...base,
        dstAddr: formatSocketAddr(route.target.ip, route.target.port),
        dstService: route.service,
        dstWorkload: route.workload,
        mtls: false,
      };
    case "passthrough":
      return { ...base, dstAddr: formatSocketAddr(route.target.ip, route.target.port), mtls: false };
    case "fail":
      return { ...base, dstAddr: formatSocketAddr(dst.ip, dst.port), mtls: false };
  }
}

/** W3C baggage with the source's Kubernetes facts, as ztunnel sends it. */
function baggageOf(w: Workload): string {
  const parts: string[] = [];
  if (w.clusterId) parts.push(`k8s.cluster.name=${w.clusterId}`);
  if (w.namespace) parts.push(`k8s.namespace.name=${w.namespace}`);
  if (w.workloadName) parts.push(`k8s.${w.workloadType}.name=${w.workloadName}`);
  if (w.canonicalName) parts.push(`service.name=${w.canonicalName}`);
  if (w.canonicalRevision) parts.push(`service.version=${w.canonicalRevision}`);
  return parts.join(",");
}
