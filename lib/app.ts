/**
 * The one place that builds and wires zt: bind first, run second, drain last.
 */
import type { Config } from "./config/config.ts";
import { Logger, LogSink, parseLogFilter } from "./log/logger.ts";
import { ProxyState } from "./state/proxy_state.ts";
import type { LocalConfigSource } from "./state/local_source.ts";
import type { LocalConfig } from "./state/local_config.ts";
import { startConfigSource } from "./state/config_source.ts";
import { applyLocalConfig } from "./state/apply_local_config.ts";
import { CertManager } from "./identity/cert_manager.ts";
import { openCertSource } from "./identity/cert_source.ts";
import { LocalCertificates } from "./identity/local_certificates.ts";
import { ConnectionManager } from "./proxy/connection_manager.ts";
import { PodProxies } from "./proxy/pod_proxies.ts";
import { buildDataPlane } from "./proxy/data_plane.ts";
import type { HbonePool } from "./tunnel/hbone_pool.ts";
import type { CaptureListeners } from "./proxy/capture_listeners.ts";
import type { DnsProxies } from "./dns/dns_proxies.ts";
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
      // `/dns_lookup`: a local pod's DNS answer for a name (none while the DNS proxy is off).
      dnsLookup: () => c.dnsCapture ? this.#dns?.lookupByName.bind(this.#dns) : undefined,
    });
    const ready = this.#obs.readiness;
    const stateTask = ready.register("state manager");
    // In-pod mode is ready once istio-cni's snapshot is served ("workload proxy manager", lib/inpod);
    // otherwise once the local pods' listeners are up with their certificates.
    const certTask = c.inpodEnabled ? () => {} : ready.register("certificates");
    const proxyTask = c.inpodEnabled ? () => {} : ready.register("proxy");

    // Identity.
    const { source, channel } = await openCertSource(c, this.log);
    this.#caChannel = channel;
    const certs = this.#certs = new CertManager({ source, log: log("identity") });
    const localCerts = new LocalCertificates(this.state, certs, c.nodeName);

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

    // Data plane: proxies, the HBONE pool, DNS, node-level capture, and what every pod's listeners share.
    const plane = buildDataPlane({
      config: c,
      state: this.state,
      connections: this.connections,
      certs,
      factory,
      trafficSink: this.#obs.trafficSink,
      registry: this.#obs.registry,
      rejected: (listener, kind) => this.#obs?.rejected(listener, kind),
      log,
    });
    const { authorizer, handlers, podOptions, capture } = plane;
    this.#pool = plane.pool;
    this.#dns = plane.dns;
    this.#capture = capture;
    const inboundLog = log("inbound");
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
    const pool = plane.pool;
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
        localCerts.track();
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
    const config = await startConfigSource({
      config: c,
      state: this.state,
      registry: this.#obs.registry,
      apply,
      log: log("xds"),
    });
    this.#localSource = config.local;
    this.#xds = config.xds;
    if (!(await config.firstSync)) return;
    stateTask();
    await capture?.start();
    if (this.#inpod) {
      // As ztunnel: istio-cni's pods are taken once the first configuration is in.
      localCerts.track();
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
    if (!(await localCerts.waitAvailable(this.#closing.signal))) return;
    await pods!.reconcile();
    certTask();
    proxyTask();
    this.log.info("zt ready", { node: c.nodeName, pods: pods!.pods.size, instanceIp: c.instanceIp });
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
