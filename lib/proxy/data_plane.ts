/**
 * The data plane a node's pods share, built from the config and the socket seam: the authorizer, the
 * HBONE client pool, the outbound and inbound proxies, the DNS proxies (and the resolver SOCKS5 uses),
 * node-level capture listeners (TPROXY), and the handlers and options every pod's listeners are made with.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../log/logger.ts";
import type { Registry } from "../metrics/registry.ts";

import type { ProxyState } from "../state/proxy_state.ts";
import { LoadBalancerState } from "../state/load_balancer.ts";
import type { CertManager } from "../identity/cert_manager.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import { HbonePool } from "../tunnel/hbone_pool.ts";
import type { H2Options } from "../tunnel/h2/session.ts";
import { DnsProxies } from "../dns/dns_proxies.ts";
import { errorMessage } from "../error.ts";
import { Authorizer } from "./authorizer.ts";
import type { ConnectionManager } from "./connection_manager.ts";
import { ConnectionReporter, type TrafficSink } from "./connection_reporter.ts";
import { OutboundProxy } from "./outbound.ts";
import { InboundProxy } from "./inbound.ts";
import { InboundPlaintext } from "./inbound_plaintext.ts";
import { CaptureListeners } from "./capture_listeners.ts";
import type { PodHandlers, PodProxyOptions } from "./pod_proxy.ts";

export interface DataPlaneDeps {
  readonly config: Config;
  readonly state: ProxyState;
  readonly connections: ConnectionManager;
  readonly certs: CertManager;
  readonly factory: SocketFactory;
  readonly trafficSink: TrafficSink;
  readonly registry: Registry;
  /** Counts a refused peer or a failed accept (zt_rejected_connections_total). */
  readonly rejected: (listener: string, kind: string) => void;
  readonly log: (scope: string) => Logger;
}

export interface DataPlane {
  readonly authorizer: Authorizer;
  readonly pool: HbonePool;
  readonly dns: DnsProxies;
  /** Node-level TPROXY listeners (CAPTURE_MODE=tproxy only). */
  readonly capture?: CaptureListeners;
  readonly handlers: PodHandlers;
  readonly podOptions: Pick<PodProxyOptions, "h2" | "tls" | "socks5" | "onRejected" | "onAcceptError">;
}

export function buildDataPlane(d: DataPlaneDeps): DataPlane {
  const { config: c, certs, factory } = d;
  const h2: H2Options = {
    streamWindow: c.http2StreamWindowSize,
    connectionWindow: c.http2ConnectionWindowSize,
    maxFrameSize: c.http2FrameSize,
    maxConcurrentStreams: Math.max(200, c.poolMaxStreamsPerConnection),
    maxHeaderListSize: 64 * 1024,
  };
  const authorizer = new Authorizer(d.state, d.log("policy"), c.authzPolicyInfoLogging);
  const reporter = new ConnectionReporter(d.log("access"), d.trafficSink);
  const pool = new HbonePool({
    h2,
    maxStreamsPerConnection: c.poolMaxStreamsPerConnection,
    idleTimeoutMs: c.poolUnusedReleaseTimeoutMs,
    tls: c.tlsBackend,
    log: d.log("tunnel"),
  });
  const acceptError = (listener: string, errno: string) => d.rejected(listener, `accept_${errno}`);
  const outbound = new OutboundProxy({
    state: d.state,
    lb: new LoadBalancerState(),
    pool,
    certs,
    connections: d.connections,
    reporter,
    log: d.log("outbound"),
  });
  const inbound = new InboundProxy({
    state: d.state,
    node: c.nodeName,
    authorize: (w, conn) => authorizer.decide(w, conn),
    connections: d.connections,
    reporter,
    log: d.log("inbound"),
  });
  // The node's name resolver and, unless ISTIO_META_DNS_CAPTURE turns it off, a DNS proxy per local pod
  // (ztunnel's 15053); upstream sockets come from each pod's factory. SOCKS5 resolves through the same.
  const dns = new DnsProxies({
    state: d.state,
    sockets: factory,
    registry: c.dnsCapture ? d.registry : undefined,
    log: d.log("dns"),
    clusterDomain: c.clusterDomain,
    ipv6Enabled: c.ipv6Enabled,
    preferredNamespace: c.preferedServiceNamespace,
    proxyAddr: c.dnsProxyAddr,
    upstreams: c.dnsUpstreams,
    upstreamTimeoutMs: c.dnsUpstreamTimeoutMs,
  });
  const serveDns = c.dnsCapture;
  const capture = c.captureMode === "tproxy"
    ? new CaptureListeners({
      outbound,
      inbound: inbound.deps,
      factory,
      log: d.log("capture"),
      onAcceptError: acceptError,
    })
    : undefined;
  const inboundLog = d.log("inbound");
  const handlers: PodHandlers = {
    state: d.state,
    outbound,
    plaintext: new InboundPlaintext(inbound.deps),
    onTunnel: (ctx, t) => {
      inbound.handle(ctx, t).catch((e) => inboundLog.error("inbound failed", { error: errorMessage(e) }));
    },
    resolveName: (src, host) => dns.resolver.resolve(src, host),
    startDns: serveDns
      ? (pod) => dns.startPod(pod.uid, { ...pod, sockets: pod.factory, workload: pod.workload })
      : undefined,
  };
  const podOptions = {
    h2,
    tls: c.tlsBackend,
    socks5: c.socks5Enabled,
    onRejected: (listener: "hbone" | "socks5", kind: string) => d.rejected(listener, kind),
    onAcceptError: acceptError,
  };
  return { authorizer, pool, dns, capture, handlers, podOptions };
}
