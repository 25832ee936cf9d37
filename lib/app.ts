/**
 * The one place that builds and wires zt: bind first, run second, drain last.
 */
import type { Config } from "./config/config.ts";
import { Logger, LogSink, parseLogFilter } from "./log/logger.ts";
import { errorMessage, ZtError } from "./error.ts";
import { ProxyState } from "./state/proxy_state.ts";
import { LoadBalancerState } from "./state/load_balancer.ts";
import { LocalConfigSource } from "./state/local_source.ts";
import { type LocalConfig, parseLocalConfig } from "./state/local_config.ts";
import { applyLocalConfig } from "./state/apply_local_config.ts";
import { BuiltinCa } from "./identity/builtin_ca.ts";
import { CertManager } from "./identity/cert_manager.ts";
import { HbonePool } from "./tunnel/hbone_pool.ts";
import type { H2Options } from "./tunnel/h2/session.ts";
import { Authorizer } from "./proxy/authorizer.ts";
import { ConnectionManager } from "./proxy/connection_manager.ts";
import { ConnectionReporter } from "./proxy/connection_reporter.ts";
import { OutboundProxy } from "./proxy/outbound.ts";
import { InboundProxy } from "./proxy/inbound.ts";
import { PodProxies } from "./proxy/pod_proxies.ts";
import type { PodHandlers } from "./proxy/pod_proxy.ts";
import { InboundPlaintext } from "./proxy/inbound_plaintext.ts";
import { CaptureListeners } from "./proxy/capture_listeners.ts";
import { Libc } from "./net/libc.ts";
import { Readiness as SocketReadiness } from "./net/readiness.ts";
import { SocketFactory } from "./net/socket_factory.ts";
import { FdBudget } from "./net/fd_budget.ts";
import { NetNamespace } from "./net/netns.ts";
import { PodProxyLauncher } from "./inpod/pod_proxy_launcher.ts";
import { WorkloadManager } from "./inpod/workload_manager.ts";
import { applyAmbientSelection } from "./state/ambient_selection.ts";
import { Observability } from "./admin/observability.ts";
import { formatIdentity } from "./identity/spiffe.ts";
import type { GrpcChannel } from "./xds/grpc_channel.ts";
import type { XdsConfigSource } from "./state/xds_source.ts";
import { DnsProxies } from "./dns/dns_proxies.ts";
import type { DnsLookupFn } from "./admin/dns_lookup.ts";

export interface AppOptions {
  /** Where log lines go (stderr by default). */
  readonly logWrite?: (line: string) => void;
}

export class App {
  readonly sink: LogSink;
  readonly log: Logger;
  readonly state = new ProxyState();
  readonly connections = new ConnectionManager();
  #certs?: CertManager;
  #pool?: HbonePool;
  #pods?: PodProxies;
  #inpod?: WorkloadManager;
  #home?: NetNamespace;
  #capture?: CaptureListeners;
  #localSource?: LocalConfigSource;
  #xds?: XdsConfigSource;
  #caChannel?: GrpcChannel;
  #dns?: DnsProxies;
  /** Aborted on close: startup waits (first xDS sync, first certificates) give up. */
  #closing = new AbortController();
  #obs?: Observability;
  #libc?: Libc;
  #sockets?: SocketReadiness;
  #stopping?: Promise<number>;
  #exit!: (code: number) => void;
  /** Resolves with the process exit code once the app has stopped. */
  readonly done = new Promise<number>((r) => (this.#exit = r));

  private constructor(readonly config: Config, opts: AppOptions) {
    this.sink = new LogSink(parseLogFilter(config.logFilter), config.logFormat, opts.logWrite);
    this.log = new Logger(this.sink, "zt");
  }

  /** Builds and starts a node; rejects if startup fails (everything bound so far is closed again). */
  static async start(config: Config, opts: AppOptions = {}): Promise<App> {
    const app = App.create(config, opts);
    await app.run();
    return app;
  }

  /** Builds a node without starting it, so a caller can route signals to `shutdown()` from the start. */
  static create(config: Config, opts: AppOptions = {}): App {
    return new App(config, opts);
  }

  /**
   * Binds, then runs until ready. A `shutdown()` during startup abandons the rest of it (resolving, not
   * rejecting); `done` then resolves once the drain completes.
   */
  async run(): Promise<void> {
    try {
      await this.#start();
    } catch (e) {
      if (this.#stopping) return;
      await this.#close();
      throw e;
    }
  }

  get certs(): CertManager | undefined {
    return this.#certs;
  }

  async #start(): Promise<void> {
    const c = this.config;
    const log = (scope: string) => this.log.child(scope);
    const h2: H2Options = {
      streamWindow: c.http2StreamWindowSize,
      connectionWindow: c.http2ConnectionWindowSize,
      maxFrameSize: c.http2FrameSize,
      maxConcurrentStreams: Math.max(200, c.poolMaxStreamsPerConnection),
      maxHeaderListSize: 64 * 1024,
    };

    // Bind first: the node-level servers, so probes see "not ready" while the rest starts.
    this.#obs = await Observability.start({
      config: c,
      sink: this.sink,
      log: log("admin"),
      state: this.state,
      connections: this.connections,
      certs: () => this.#certs,
      staticConfig: () => this.#localSource?.current,
      shutdown: () => this.shutdown(),
      workloadState: c.inpodEnabled ? () => this.#inpod?.workloadState() : undefined,
      dnsLookup: () => this.#dnsLookup(),
    });
    const ready = this.#obs.readiness;
    const stateTask = ready.register("state manager");
    // In-pod mode is ready once istio-cni's snapshot is served ("workload proxy manager", lib/inpod);
    // otherwise once the local pods' listeners are up with their certificates.
    const certTask = c.inpodEnabled ? () => {} : ready.register("certificates");
    const proxyTask = c.inpodEnabled ? () => {} : ready.register("proxy");

    // Identity.
    if (c.localCaDir) {
      const ca = await BuiltinCa.load(c.localCaDir);
      this.#certs = new CertManager({ source: ca.source(c.secretTtlMs), log: log("identity") });
    } else if (c.caAddress) {
      // The gRPC stack loads only when a control plane is configured: standalone nodes stay lighter.
      const { controlPlaneChannel } = await import("./xds/control_plane_config.ts");
      const { IstioCaClient } = await import("./identity/ca_client.ts");
      this.#caChannel = controlPlaneChannel(c, "ca");
      const source = new IstioCaClient({ channel: this.#caChannel, ttlMs: c.secretTtlMs });
      this.#certs = new CertManager({ source, log: log("identity") });
      this.log.info("using the Istio CA", { address: c.caAddress, ttl: `${c.secretTtlMs}ms` });
    } else {
      throw new ZtError(
        "config",
        "no certificate source: set LOCAL_CA_DIR (built-in CA) or CA_ADDRESS (Istio CA)",
      );
    }
    const certs = this.#certs;

    // The socket seam: every listener and connection of the data plane is made through a factory.
    this.#libc = Libc.open();
    this.#sockets = new SocketReadiness(this.#libc);
    const factory = new SocketFactory({
      libc: this.#libc,
      readiness: this.#sockets,
      connectTimeoutMs: 10_000,
      keepalive: c.keepalive,
      budget: new FdBudget(this.#libc),
    });

    // Data plane.
    const authorizer = new Authorizer(this.state, log("policy"), c.authzPolicyInfoLogging);
    const reporter = new ConnectionReporter(log("access"), this.#obs.trafficSink);
    this.#pool = new HbonePool({
      h2,
      maxStreamsPerConnection: c.poolMaxStreamsPerConnection,
      idleTimeoutMs: c.poolUnusedReleaseTimeoutMs,
      tls: c.tlsBackend,
      log: log("tunnel"),
    });
    const acceptError = (listener: string, errno: string) => this.#obs?.rejected(listener, `accept_${errno}`);
    const outbound = new OutboundProxy({
      state: this.state,
      lb: new LoadBalancerState(),
      pool: this.#pool,
      certs,
      connections: this.connections,
      reporter,
      log: log("outbound"),
    });
    const inbound = new InboundProxy({
      state: this.state,
      node: c.nodeName,
      authorize: (w, conn) => authorizer.decide(w, conn),
      connections: this.connections,
      reporter,
      log: log("inbound"),
    });
    // The node's name resolver and, unless ISTIO_META_DNS_CAPTURE turns it off, a DNS proxy per local pod
    // (ztunnel's 15053); upstream sockets come from each pod's factory. SOCKS5 resolves through the same.
    const dns = new DnsProxies({
      state: this.state,
      sockets: factory,
      registry: c.dnsCapture ? this.#obs.registry : undefined,
      log: log("dns"),
      clusterDomain: c.clusterDomain,
      ipv6Enabled: c.ipv6Enabled,
      preferredNamespace: c.preferedServiceNamespace,
      proxyAddr: c.dnsProxyAddr,
      upstreams: c.dnsUpstreams,
      upstreamTimeoutMs: c.dnsUpstreamTimeoutMs,
    });
    this.#dns = dns;
    const serveDns = c.dnsCapture;
    const capture = c.captureMode === "tproxy"
      ? new CaptureListeners({
        outbound,
        inbound: inbound.deps,
        factory,
        log: log("capture"),
        onAcceptError: acceptError,
      })
      : undefined;
    this.#capture = capture;
    const inboundLog = log("inbound");
    const handlers: PodHandlers = {
      state: this.state,
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
      onRejected: (listener: "hbone" | "socks5", kind: string) => this.#obs?.rejected(listener, kind),
      onAcceptError: acceptError,
    };
    // Pods on their own IPs in zt's netns (standalone, node-level TPROXY), or inside their own
    // namespaces as istio-cni hands them over (in-pod mode).
    let launcher: PodProxyLauncher | undefined;
    if (c.inpodEnabled) {
      this.#home = NetNamespace.current(this.#libc);
      launcher = new PodProxyLauncher({
        factory: factory.forNamespace(undefined, undefined, c.inpodPortReuse),
        mark: c.packetMark,
        node: c.nodeName,
        state: this.state,
        certs,
        connections: this.connections,
        handlers,
        transparent: "try",
        proxy: podOptions,
        log: inboundLog,
      });
      this.#inpod = new WorkloadManager({
        path: c.inpodUds,
        libc: this.#libc,
        netReadiness: this.#sockets,
        home: this.#home,
        readiness: ready,
        registry: this.#obs.registry,
        launcher,
        log: log("inpod"),
        exit: (code) => Deno.exit(code),
      });
    } else {
      this.#pods = new PodProxies({
        node: c.nodeName,
        state: this.state,
        certs,
        factory,
        handlers,
        transparentHbone: capture !== undefined,
        proxy: podOptions,
        log: inboundLog,
      });
    }
    const pods = this.#pods;
    const pool = this.#pool;
    certs.onChange((ch) => {
      if (!ch.certificate) return;
      // A renewed certificate retires the pooled tunnels made with the old one (closed as their streams end).
      pool.useCertificate(ch.certificate);
      launcher?.updateCertificate(ch.certificate);
      if (!pods) return;
      pods.updateCertificate(ch.certificate);
      // A pod whose first certificate failed has no listeners yet: start them now.
      if (ch.state === "Available") {
        const id = formatIdentity(ch.certificate.identity);
        if (![...pods.pods.values()].some((p) => p.identity === id)) pods.reconcile();
      }
    });

    // Run: configuration in, listeners follow it, policy changes re-check live connections.
    this.state.onChange((ch) => {
      if (ch.kind === "workload" || ch.kind === "all") {
        pods?.reconcile();
        launcher?.reconcile();
        this.#trackCertificates();
      }
      if (ch.kind === "policy" || ch.kind === "all" || ch.kind === "workload") {
        authorizer.invalidate();
        this.connections.recheckAll((conn, d) =>
          log("policy").info("connection closed because it's no longer allowed after a policy update", {
            id: conn.id,
            reason: d.reason,
          })
        );
      }
    });
    // With capture, a standalone config is filtered by ambient pod selection, as istiod would publish it.
    const apply = (cfg: LocalConfig) =>
      applyLocalConfig(
        this.state,
        capture || c.inpodEnabled ? applyAmbientSelection(cfg) : cfg,
        c.rootNamespace,
        log("xds"),
      );
    if (c.localXdsPath) {
      const errors = this.#obs.registry.counter({
        name: "zt_local_config_errors",
        help:
          "LOCAL_XDS_PATH failures, the last good config kept: kind read, invalid or watch (re-established).",
        labelNames: ["kind"],
      });
      this.#localSource = new LocalConfigSource({
        path: c.localXdsPath,
        onConfig: apply,
        onFailure: (kind) => errors.labels([kind]).inc(1),
        log: log("xds"),
      });
      apply(await this.#localSource.start());
    } else if (c.localXds) {
      apply(parseLocalConfig(c.localXds, "LOCAL_XDS"));
    } else if (c.xdsAddress) {
      const { controlPlaneChannel, xdsNodeInfo } = await import("./xds/control_plane_config.ts");
      const { XdsConfigSource } = await import("./state/xds_source.ts");
      const { XdsMetrics } = await import("./metrics/xds_metrics.ts");
      const metrics = new XdsMetrics(this.#obs.registry);
      const node = xdsNodeInfo(c);
      for (const e of node.errors) log("xds").warn("ignoring node metadata", { error: e });
      this.#xds = new XdsConfigSource({
        channel: controlPlaneChannel(c, "xds"),
        node,
        state: this.state,
        log: log("xds"),
        metrics: {
          message: (t, b) => metrics.received(t, b),
          connectionTerminated: (r) => metrics.terminated(r),
        },
      });
      this.#xds.start();
      // "state manager" stays pending until istiod's first Address and Authorization pushes are ACKed.
      if (!(await this.#xds.synced)) return;
    }
    stateTask();
    await capture?.start();
    if (this.#inpod) {
      // As ztunnel: istio-cni's pods are taken once the first configuration is in.
      this.#trackCertificates();
      this.#inpod.start();
      this.log.info("waiting for istio-cni", { node: c.nodeName, zds: c.inpodUds });
      ready.whenReady().then(() => {
        if (!this.#stopping) {
          this.log.info("zt ready", { node: c.nodeName, mode: "in-pod", instanceIp: c.instanceIp });
        }
      });
      return;
    }
    await pods!.reconcile();
    if (!(await this.#waitLocalCertificates())) return;
    await pods!.reconcile();
    certTask();
    proxyTask();
    this.log.info("zt ready", { node: c.nodeName, pods: pods!.pods.size, instanceIp: c.instanceIp });
  }

  /** `/dns_lookup`: a local pod's DNS answer for a name (undefined while the DNS proxy is off). */
  #dnsLookup(): DnsLookupFn | undefined {
    const dns = this.#dns;
    if (!dns || !this.config.dnsCapture) return undefined;
    return async (pod, name, type) => {
      const w = dns.podByName(pod);
      return w ? await dns.lookup(w, name, type) : "no pod";
    };
  }

  /** Certificates are fetched ahead for every local mesh pod and forgotten when the last one leaves. */
  #trackCertificates(): void {
    const ids = new Map<string, { trustDomain: string; namespace: string; serviceAccount: string }>();
    for (const w of this.state.localWorkloads(this.config.nodeName)) {
      if (w.protocol !== "HBONE") continue;
      const id = { trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount };
      ids.set(`${id.trustDomain}/${id.namespace}/${id.serviceAccount}`, id);
    }
    this.#certs?.track([...ids.values()]);
  }

  /**
   * Waits until every local mesh pod's certificate is Available. A failed fetch does not end the wait
   * (the cert manager retries with backoff; the node stays not ready meanwhile). False when closed.
   */
  async #waitLocalCertificates(): Promise<boolean> {
    this.#trackCertificates();
    const certs = this.#certs!;
    const signal = this.#closing.signal;
    const missing = () =>
      this.state.localWorkloads(this.config.nodeName).some((w) => {
        const id = { trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount };
        return w.protocol === "HBONE" && certs.state(id) !== "Available";
      });
    if (!missing()) return true;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!signal.aborted && missing()) return;
        offCerts();
        offState();
        signal.removeEventListener("abort", check);
        resolve();
      };
      const offCerts = certs.onChange(check);
      const offState = this.state.onChange(check);
      signal.addEventListener("abort", check);
      check();
    });
    return !signal.aborted;
  }

  /** Graceful drain: stop listeners, GOAWAY, let connections finish up to the deadline, close. */
  shutdown(): Promise<number> {
    this.#stopping ??= (async () => {
      this.#closing.abort();
      this.log.info("shutting down", { deadline: `${this.config.connectionTerminationDeadlineMs}ms` });
      this.#localSource?.close();
      await this.#capture?.drain();
      await this.#inpod?.stop();
      await this.#pods?.drain();
      this.#pool?.drain();
      const r = await this.connections.drain(this.config.connectionTerminationDeadlineMs);
      if (!r.finished) this.log.warn("drain deadline reached", { aborted: r.aborted });
      await this.#close();
      this.log.info("shutdown complete");
      this.#exit(0);
      return 0;
    })();
    return this.#stopping;
  }

  async #close(): Promise<void> {
    this.#closing.abort();
    this.#localSource?.close();
    await this.#xds?.close();
    this.#caChannel?.close();
    this.#capture?.close();
    this.#pods?.close();
    this.#dns?.close();
    this.#pool?.close();
    this.#certs?.close();
    await this.#obs?.close();
    this.#sockets?.close();
    this.#home?.close();
  }
}
