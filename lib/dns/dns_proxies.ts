/**
 * The DNS proxies of a node's local pods, and the name resolver they share with SOCKS5: one DnsServer
 * and one upstream Forwarder per pod (the pod's sockets, its own in-flight bound), the node's forwarder
 * for pods without one. Also answers "what would this pod's DNS say" for the admin endpoint.
 */
import type { Logger } from "../log/logger.ts";
import { Registry } from "../metrics/registry.ts";
import { formatSocketAddr, type SocketAddr } from "../state/ip.ts";
import type { Workload } from "../state/types.ts";
import type { DnsStateView } from "./answer.ts";
import { DnsMetrics } from "./dns_metrics.ts";
import { DnsRejections } from "./dns_rejections.ts";
import { DnsServer, type ServerSockets } from "./dns_server.ts";
import { RClass, Rcode, rcodeName, typeName } from "./dns_types.ts";
import { Forwarder, type UpstreamSockets } from "./forwarder.ts";
import { NameResolver } from "./name_resolver.ts";
import { readResolvConf, type ResolvConf } from "./resolv_conf.ts";
import { type RecordView, recordView } from "./record_text.ts";

/** ISTIO_META_DNS_PROXY_ADDR: `localhost:P` or one `IP:P`. */
export interface DnsProxyAddr {
  readonly host: string;
  readonly port: number;
}

export const DNS_PORT = 15053;

/**
 * Where a pod's DNS server binds. In the pod's own namespace `localhost` is 127.0.0.1, plus ::1 where the
 * pod's loopback has IPv6 (tried, skipped if it cannot be bound); in loopback mode (all pods share one
 * namespace) it is the pod's IP; an explicit IP is that one address.
 */
export function dnsBindAddresses(
  addr: DnsProxyAddr,
  pod: { readonly ip: string; readonly inOwnNamespace: boolean; readonly ipv6Enabled: boolean },
): { required: SocketAddr[]; optional: SocketAddr[] } {
  if (addr.host !== "localhost") return { required: [{ ip: addr.host, port: addr.port }], optional: [] };
  if (!pod.inOwnNamespace) return { required: [{ ip: pod.ip, port: addr.port }], optional: [] };
  return {
    required: [{ ip: "127.0.0.1", port: addr.port }],
    optional: pod.ipv6Enabled ? [{ ip: "::1", port: addr.port }] : [],
  };
}

export interface DnsProxiesOptions {
  readonly state: DnsStateView & { workload(uid: string): Workload | undefined };
  /** zt's own sockets (the node-level forwarder, loopback-mode pods). */
  readonly sockets: ServerSockets & UpstreamSockets;
  /** Where the istio_dns_* metrics register; absent when the proxy is off (SOCKS5 still resolves). */
  readonly registry?: Registry;
  readonly log: Logger;
  readonly clusterDomain: string;
  readonly ipv6Enabled: boolean;
  readonly preferredNamespace?: string;
  readonly proxyAddr: DnsProxyAddr;
  /** Explicit upstreams (ZT_DNS_UPSTREAMS); else the nameservers of /etc/resolv.conf. */
  readonly upstreams?: readonly SocketAddr[];
  readonly upstreamTimeoutMs?: number;
  /** Rounds over the upstreams (default: resolv.conf's attempts, else 2). */
  readonly upstreamAttempts?: number;
  /** Upstream lookups in flight per pod (default 64). */
  readonly upstreamMaxInFlight?: number;
  /** Where resolv.conf is read from (tests). */
  readonly resolvConfPath?: string;
}

export interface DnsLookupView {
  readonly pod: string;
  readonly query: string;
  readonly type: string;
  readonly source: "local" | "upstream";
  readonly rcode: string;
  readonly authoritative: boolean;
  readonly result: string;
  readonly service?: string;
  readonly upstream?: string;
  readonly records: readonly RecordView[];
}

interface PodDns {
  readonly server: DnsServer;
  readonly forwarder: Forwarder;
  /** The pod's xDS workload now (in-pod mode: matched by name, namespace and service account). */
  readonly workload: () => Workload | undefined;
}

export class DnsProxies {
  readonly #o: DnsProxiesOptions;
  readonly metrics: DnsMetrics;
  readonly rejections: DnsRejections;
  readonly resolver: NameResolver;
  readonly #pods = new Map<string, PodDns>();
  #nodeForwarder?: Forwarder;

  constructor(opts: DnsProxiesOptions) {
    this.#o = opts;
    // With the proxy off nothing is served, so the metrics stay off the node's registry (as ztunnel's).
    const registry = opts.registry ?? new Registry();
    this.metrics = new DnsMetrics(registry);
    this.rejections = new DnsRejections(registry, opts.log);
    this.resolver = new NameResolver({
      state: opts.state,
      clusterDomain: opts.clusterDomain,
      ipv6Enabled: opts.ipv6Enabled,
      preferredNamespace: opts.preferredNamespace,
      forwarderFor: (pod) => this.#forwarderOf(pod) ?? this.#node(),
    });
  }

  #upstreamConfig(): ResolvConf {
    const o = this.#o;
    if (o.upstreams) {
      return { nameservers: o.upstreams, timeoutMs: o.upstreamTimeoutMs, attempts: o.upstreamAttempts };
    }
    const { conf, error } = readResolvConf(o.resolvConfPath);
    if (error) o.log.warn("cannot read resolv.conf: names outside the mesh will not resolve", { error });
    return {
      ...conf,
      timeoutMs: o.upstreamTimeoutMs ?? conf.timeoutMs,
      attempts: o.upstreamAttempts ?? conf.attempts,
    };
  }

  #forwarder(sockets: UpstreamSockets): Forwarder {
    const c = this.#upstreamConfig();
    return new Forwarder({
      sockets,
      upstreams: c.nameservers,
      timeoutMs: c.timeoutMs,
      attempts: c.attempts,
      maxInFlight: this.#o.upstreamMaxInFlight,
    });
  }

  #forwarderOf(w: Workload): Forwarder | undefined {
    const byUid = this.#pods.get(w.uid);
    if (byUid) return byUid.forwarder;
    for (const p of this.#pods.values()) if (p.workload()?.uid === w.uid) return p.forwarder;
    return undefined;
  }

  #node(): Forwarder {
    return this.#nodeForwarder ??= this.#forwarder(this.#o.sockets);
  }

  /**
   * Starts the DNS server of a local pod (bound now; a bind failure throws). `sockets` are the pod's
   * (its namespace and mark) in in-pod mode; in loopback mode zt's own, on the pod's IP. `key` names the
   * pod (its ZDS uid in in-pod mode, its workload uid otherwise); `workload` finds its xDS workload now
   * (default: the workload of uid `key`).
   */
  startPod(
    key: string,
    pod: {
      ip?: string;
      sockets?: ServerSockets & UpstreamSockets;
      inOwnNamespace?: boolean;
      workload?: () => Workload | undefined;
    },
  ): {
    readonly bound: readonly SocketAddr[];
    close(): void;
  } {
    const o = this.#o;
    const sockets = pod.sockets ?? o.sockets;
    const forwarder = this.#forwarder(sockets);
    const where = dnsBindAddresses(o.proxyAddr, {
      ip: pod.ip ?? "127.0.0.1",
      inOwnNamespace: pod.inOwnNamespace ?? false,
      ipv6Enabled: o.ipv6Enabled,
    });
    const uid = key;
    const workload = pod.workload ?? (() => o.state.workload(key));
    const server = new DnsServer({
      sockets,
      addresses: where.required,
      optionalAddresses: where.optional,
      resolver: this.resolver,
      clientWorkload: workload,
      metrics: this.metrics,
      rejections: this.rejections,
      log: o.log,
    });
    const previous = this.#pods.get(uid);
    previous?.server.close();
    previous?.forwarder.close();
    server.start();
    this.#pods.set(uid, { server, forwarder, workload });
    o.log.info("starting local DNS server", {
      uid,
      address: server.bound.map((a) => formatSocketAddr(a.ip, a.port)).join(","),
      upstreams: forwarder.upstreams.map((a) => formatSocketAddr(a.ip, a.port)).join(",") || "none",
    });
    return {
      bound: server.bound,
      close: () => {
        server.close();
        forwarder.close();
        if (this.#pods.get(uid)?.server === server) this.#pods.delete(uid);
      },
    };
  }

  /** The workload of a local pod with a DNS server, by `namespace/name`. */
  podByName(ref: string): Workload | undefined {
    for (const p of this.#pods.values()) {
      const w = p.workload();
      if (w && `${w.namespace}/${w.name}` === ref) return w;
    }
    return undefined;
  }

  /** `lookup` for the pod named `namespace/name` ("no pod" when no local pod has a DNS server). */
  lookupByName(ref: string, name: string, type: number): Promise<DnsLookupView | "no pod"> {
    const w = this.podByName(ref);
    return w ? this.lookup(w, name, type) : Promise.resolve("no pod");
  }

  /** What `pod`'s DNS proxy answers for `name` and `type` (resolved for real, upstream included). */
  async lookup(pod: Workload, name: string, type: number): Promise<DnsLookupView> {
    const q = { name: name.replace(/\.$/, ""), type, class: RClass.IN };
    const r = await this.resolver.query(pod, q);
    const base = { pod: `${pod.namespace}/${pod.name}`, query: `${q.name}.`, type: typeName(type) };
    if (r.source === "local") {
      return {
        ...base,
        source: "local",
        rcode: "NOERROR",
        authoritative: true,
        result: r.answer.result,
        service: r.answer.service,
        records: r.records.map(recordView),
      };
    }
    const u = r.result;
    if (u.kind === "failed") {
      return {
        ...base,
        source: "upstream",
        rcode: "SERVFAIL",
        authoritative: false,
        result: `forwarding failed (${u.detail})`,
        records: [],
      };
    }
    return {
      ...base,
      source: "upstream",
      rcode: rcodeName(u.rcode),
      authoritative: false,
      result: u.rcode === Rcode.NOERROR && u.answers.length ? "forwarded" : "forwarding failed",
      upstream: `${u.server} (${u.transport})`,
      records: [...u.answers, ...u.additionals].map(recordView),
    };
  }

  close(): void {
    for (const p of this.#pods.values()) {
      p.server.close();
      p.forwarder.close();
    }
    this.#pods.clear();
    this.#nodeForwarder?.close();
  }
}
