/**
 * The node-level operational servers, bound before anything else starts: admin (15000), Prometheus
 * metrics (15020) and readiness (15021), plus the metrics the data path and identity feed.
 */
import type { Config } from "../config/config.ts";
import { configForDump } from "../config/config.ts";
import type { Logger, LogSink } from "../log/logger.ts";
import type { ProxyState } from "../state/proxy_state.ts";
import type { CertManager } from "../identity/cert_manager.ts";
import type { ConnectionManager } from "../proxy/connection_manager.ts";
import type { ConnectionRecord, ConnectionResult, TrafficSink } from "../proxy/connection_reporter.ts";
import type { CounterFamily } from "../metrics/metric_family.ts";
import { Registry } from "../metrics/registry.ts";
import { type TrafficLabelHandle, TrafficMetrics } from "../metrics/traffic_metrics.ts";
import { registerBuildInfo } from "../metrics/build_info.ts";
import { registerProcessMetrics } from "../metrics/process_metrics.ts";
import { registerCertificateMetrics } from "../metrics/cert_metrics.ts";
import { serveMetrics } from "../metrics/metrics_server.ts";
import { ISTIO_VERSION, VERSION } from "../version.ts";
import { Readiness, serveReadiness } from "./readiness.ts";
import { serveAdmin } from "./admin_server.ts";
import { buildConfigDump } from "./config_dump.ts";
import type { DnsLookupFn } from "./dns_lookup.ts";

export interface ObservabilityOptions {
  readonly config: Config;
  readonly sink: LogSink;
  readonly log: Logger;
  readonly state: ProxyState;
  readonly connections: ConnectionManager;
  readonly certs: () => CertManager | undefined;
  readonly staticConfig: () => unknown;
  readonly shutdown: () => Promise<unknown>;
  /** In-pod mode's `workloadState` (lib/inpod WorkloadManager.workloadState), when it runs. */
  readonly workloadState?: () => unknown;
  /** The DNS proxies' lookup for `/dns_lookup` (set once they exist). */
  readonly dnsLookup?: () => DnsLookupFn | undefined;
}

function formatNetAddr(a: Deno.NetAddr): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

interface Closable {
  shutdown(): Promise<void>;
}

export class Observability {
  readonly readiness = new Readiness();
  readonly registry = new Registry();
  readonly traffic: TrafficMetrics;
  readonly trafficSink: TrafficSink;
  #servers: Closable[] = [];
  #rejected: CounterFamily;

  private constructor(readonly opts: ObservabilityOptions) {
    this.traffic = new TrafficMetrics(this.registry);
    registerBuildInfo(this.registry, ISTIO_VERSION);
    registerProcessMetrics(this.registry);
    registerCertificateMetrics(this.registry, () => opts.certs()?.dump() ?? []);
    this.#rejected = this.registry.counter({
      name: "zt_rejected_connections",
      help: "Connections refused for bad input: listener hbone (kind tls or h2) or socks5 (kind handshake).",
      labelNames: ["listener", "kind"],
    });
    const traffic = this.traffic;
    this.trafficSink = {
      opened(rec: ConnectionRecord): TrafficLabelHandle {
        const h = traffic.labels({
          reporter: rec.direction === "outbound" ? "source" : "destination",
          source: rec.srcWorkload,
          sourcePrincipal: rec.srcIdentity,
          destination: rec.dstWorkload,
          destinationService: rec.dstService,
          destinationPrincipal: rec.dstIdentity,
          mtls: rec.mtls,
        });
        traffic.opened(h);
        return h;
      },
      closed(_rec: ConnectionRecord, handle: unknown, r: ConnectionResult): void {
        const h = handle as TrafficLabelHandle;
        if (r.responseFlags && r.responseFlags !== "-" && r.sent === 0 && r.recv === 0) {
          traffic.failed(h, r.responseFlags);
        } else traffic.closed(h, { sent: r.sent, recv: r.recv, responseFlags: r.responseFlags });
      },
    };
  }

  static async start(opts: ObservabilityOptions): Promise<Observability> {
    const o = new Observability(opts);
    const c = opts.config;
    o.#servers.push(serveReadiness({ ...c.readinessAddr, readiness: o.readiness }));
    o.#servers.push(serveMetrics({ ...c.statsAddr, registry: o.registry }));
    const admin = serveAdmin({
      ...c.adminAddr,
      deps: {
        configDump: () => o.configDump(),
        logSink: opts.sink,
        dnsLookup: () => opts.dnsLookup?.(),
        shutdown: async () => {
          await opts.shutdown();
        },
        connections: () =>
          opts.connections.list().map((x) => ({
            id: x.id,
            direction: x.direction,
            src: x.src,
            dst: x.dst,
            srcIdentity: x.srcIdentity,
            dstIdentity: x.dstIdentity,
            bytesSent: x.counts.sent,
            bytesRecv: x.counts.recv,
            startedAt: x.startedAt,
          })),
      },
    });
    o.#servers.push(admin);
    opts.log.info("listening", {
      admin: admin.addrs.map(formatNetAddr).join(","),
      metrics: `${c.statsAddr.hostname}:${c.statsAddr.port}`,
      readiness: `${c.readinessAddr.hostname}:${c.readinessAddr.port}`,
    });
    return await Promise.resolve(o);
  }

  configDump(): unknown {
    const s = this.opts.state;
    return buildConfigDump({
      workloads: s.allWorkloads(),
      services: s.allServices(),
      endpoints: (key) => s.endpoints(key),
      stagedServices: s.stagedServices(),
      policies: s.allPolicies(),
      certificates: this.opts.certs()?.dump() ?? [],
      staticConfig: this.opts.staticConfig(),
      config: configForDump(this.opts.config),
      version: { version: VERSION, istioVersion: ISTIO_VERSION, runtime: `deno ${Deno.version.deno}` },
      workloadState: this.opts.workloadState?.(),
    });
  }

  /** Bad input refused; labels are a fixed small set (no reasons, no addresses: bounded cardinality). */
  rejected(listener: string, kind: string): void {
    this.#rejected.labels([listener, kind]).inc(1);
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.shutdown().catch(() => {})));
    this.#servers = [];
  }
}
