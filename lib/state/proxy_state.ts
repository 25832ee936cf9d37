/**
 * The mesh state: workloads, services and policies with the indexes the data path needs. No I/O;
 * the xDS client and the local config source write into it, proxies and the admin server read it.
 */
import { type Authorization, policyKey } from "../policy/model.ts";
import { prefixContains } from "./ip.ts";
import { addressKey, type PortMap, type Service, serviceKey, type Workload } from "./types.ts";

export type StateChangeKind = "workload" | "service" | "policy" | "all";
export interface StateChange {
  readonly kind: StateChangeKind;
}
export type StateListener = (change: StateChange) => void;

export interface Endpoint {
  readonly workload: Workload;
  readonly ports: PortMap;
}

export interface StateSnapshot {
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  readonly policies: readonly Authorization[];
}

interface CidrEntry {
  readonly network: string;
  readonly address: string;
  readonly length: number;
  readonly key: string;
}

/**
 * Ranks services sharing an address or hostname as ztunnel does: services in the client's namespace,
 * then `canonical` ones, then any (ties by key, for determinism). `visibility: Namespace` services are
 * hidden from other namespaces (and from callers that give no namespace).
 */
export function rankServices(services: Iterable<Service>, clientNamespace?: string): Service[] {
  const visible = [...services].filter((s) =>
    s.visibility !== "Namespace" || s.namespace === clientNamespace
  );
  const score = (s: Service) => (s.namespace === clientNamespace ? 2 : 0) + (s.canonical ? 1 : 0);
  return visible.sort((a, b) =>
    score(b) - score(a) || (serviceKey(a) < serviceKey(b) ? -1 : serviceKey(a) > serviceKey(b) ? 1 : 0)
  );
}

export class ProxyState {
  #version = 0;
  #listeners = new Set<StateListener>();
  #batchDepth = 0;
  /** Kinds changed inside the current batch, notified when it ends. */
  #held = new Set<StateChangeKind>();
  #workloads = new Map<string, Workload>();
  /** `network/ip` → uid (HostNetwork workloads are not indexed). */
  #workloadsByAddr = new Map<string, string>();
  /** ip → uids on any network (inbound lookups, where the network is implied by the node). */
  #workloadsByIp = new Map<string, Set<string>>();
  #services = new Map<string, Service>();
  /** `network/ip` → service keys with that exact VIP. */
  #servicesByVip = new Map<string, Set<string>>();
  #cidrVips: CidrEntry[] = [];
  /** hostname → service keys (ServiceEntry hostnames may repeat across namespaces). */
  #servicesByHost = new Map<string, Set<string>>();
  /** service key → uid → ports, derived from workloads' `services` maps (kept for unknown services too). */
  #endpoints = new Map<string, Map<string, PortMap>>();
  /** service key → sorted endpoints, rebuilt lazily after a workload of that service changes. */
  #endpointCache = new Map<string, readonly Endpoint[]>();
  #policies = new Map<string, Authorization>();

  get version(): number {
    return this.#version;
  }

  onChange(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(kind: StateChangeKind): void {
    this.#version++;
    if (this.#batchDepth > 0) this.#held.add(kind);
    else for (const l of [...this.#listeners]) l({ kind });
  }

  /**
   * Runs `fn` with change notifications held, then notifies once per kind that changed (an xDS push
   * of 10,000 workloads is one `workload` change, not 10,000). Nests; the outermost batch notifies.
   */
  batch<T>(fn: () => T): T {
    this.#batchDepth++;
    try {
      return fn();
    } finally {
      if (--this.#batchDepth === 0 && this.#held.size > 0) {
        const kinds = [...this.#held];
        this.#held.clear();
        for (const kind of kinds) for (const l of [...this.#listeners]) l({ kind });
      }
    }
  }

  // ---- workloads ----

  #indexWorkload(w: Workload): void {
    this.#workloads.set(w.uid, w);
    if (w.networkMode !== "HostNetwork") {
      for (const ip of w.workloadIps) {
        this.#workloadsByAddr.set(addressKey({ network: w.network, address: ip }), w.uid);
        let uids = this.#workloadsByIp.get(ip);
        if (!uids) this.#workloadsByIp.set(ip, uids = new Set());
        uids.add(w.uid);
      }
    }
    for (const [key, ports] of w.services) {
      let eps = this.#endpoints.get(key);
      if (!eps) this.#endpoints.set(key, eps = new Map());
      eps.set(w.uid, ports);
      this.#endpointCache.delete(key);
    }
  }

  #unindexWorkload(uid: string): boolean {
    const w = this.#workloads.get(uid);
    if (!w) return false;
    this.#workloads.delete(uid);
    for (const ip of w.workloadIps) {
      const k = addressKey({ network: w.network, address: ip });
      if (this.#workloadsByAddr.get(k) === uid) this.#workloadsByAddr.delete(k);
      const uids = this.#workloadsByIp.get(ip);
      uids?.delete(uid);
      if (uids && uids.size === 0) this.#workloadsByIp.delete(ip);
    }
    for (const key of w.services.keys()) {
      const eps = this.#endpoints.get(key);
      eps?.delete(uid);
      this.#endpointCache.delete(key);
      if (eps && eps.size === 0) this.#endpoints.delete(key);
    }
    return true;
  }

  upsertWorkload(w: Workload): void {
    this.#unindexWorkload(w.uid);
    this.#indexWorkload(w);
    this.#changed("workload");
  }

  removeWorkload(uid: string): boolean {
    if (!this.#unindexWorkload(uid)) return false;
    this.#changed("workload");
    return true;
  }

  // ---- services ----

  #indexService(s: Service): void {
    const key = serviceKey(s);
    this.#services.set(key, s);
    for (const vip of s.vips) {
      if (vip.length === undefined) {
        const k = addressKey(vip);
        let set = this.#servicesByVip.get(k);
        if (!set) this.#servicesByVip.set(k, set = new Set());
        set.add(key);
      } else {
        this.#cidrVips.push({ network: vip.network, address: vip.address, length: vip.length, key });
      }
    }
    let hosts = this.#servicesByHost.get(s.hostname);
    if (!hosts) this.#servicesByHost.set(s.hostname, hosts = new Set());
    hosts.add(key);
  }

  #unindexService(key: string): boolean {
    const s = this.#services.get(key);
    if (!s) return false;
    this.#services.delete(key);
    for (const vip of s.vips) {
      if (vip.length !== undefined) continue;
      const k = addressKey(vip);
      const set = this.#servicesByVip.get(k);
      set?.delete(key);
      if (set && set.size === 0) this.#servicesByVip.delete(k);
    }
    this.#cidrVips = this.#cidrVips.filter((c) => c.key !== key);
    const hosts = this.#servicesByHost.get(s.hostname);
    hosts?.delete(key);
    if (hosts && hosts.size === 0) this.#servicesByHost.delete(s.hostname);
    return true;
  }

  upsertService(s: Service): void {
    this.#unindexService(serviceKey(s));
    this.#indexService(s);
    this.#changed("service");
  }

  removeService(key: string): boolean {
    if (!this.#unindexService(key)) return false;
    this.#changed("service");
    return true;
  }

  // ---- policies ----

  upsertPolicy(p: Authorization): void {
    this.#policies.set(policyKey(p), p);
    this.#changed("policy");
  }

  removePolicy(key: string): boolean {
    if (!this.#policies.delete(key)) return false;
    this.#changed("policy");
    return true;
  }

  // ---- bulk ----

  /** Replaces everything (a local config reload); one `all` change. */
  replaceAll(snapshot: StateSnapshot): void {
    this.#workloads.clear();
    this.#workloadsByAddr.clear();
    this.#workloadsByIp.clear();
    this.#services.clear();
    this.#servicesByVip.clear();
    this.#cidrVips = [];
    this.#servicesByHost.clear();
    this.#endpoints.clear();
    this.#endpointCache.clear();
    this.#policies.clear();
    for (const w of snapshot.workloads) {
      this.#unindexWorkload(w.uid);
      this.#indexWorkload(w);
    }
    for (const s of snapshot.services) {
      this.#unindexService(serviceKey(s));
      this.#indexService(s);
    }
    for (const p of snapshot.policies) this.#policies.set(policyKey(p), p);
    this.#changed("all");
  }

  /** An xDS removal by resource name: a workload uid, else a service `ns/hostname`, else a policy `ns/name`. */
  remove(name: string): boolean {
    return this.removeWorkload(name) || this.removeService(name) || this.removePolicy(name);
  }

  // ---- lookups ----

  workload(uid: string): Workload | undefined {
    return this.#workloads.get(uid);
  }

  workloadByIp(network: string, ip: string): Workload | undefined {
    const uid = this.#workloadsByAddr.get(addressKey({ network, address: ip }));
    return uid === undefined ? undefined : this.#workloads.get(uid);
  }

  /** Non-HostNetwork workloads with this IP on any network, sorted by uid. */
  workloadsWithIp(ip: string): Workload[] {
    const uids = [...(this.#workloadsByIp.get(ip) ?? [])].sort();
    return uids.map((u) => this.#workloads.get(u)).filter((w): w is Workload => w !== undefined);
  }

  service(key: string): Service | undefined {
    return this.#services.get(key);
  }

  /** The service a VIP belongs to: exact VIPs first, then the longest CIDR prefix; ranked by {@link rankServices}. */
  serviceByAddress(network: string, ip: string, clientNamespace?: string): Service | undefined {
    const exact = this.#servicesByVip.get(addressKey({ network, address: ip }));
    if (exact) {
      const best = rankServices(this.#keysToServices(exact), clientNamespace)[0];
      if (best) return best;
    }
    let bestLen = -1;
    let candidates: Service[] = [];
    for (const c of this.#cidrVips) {
      if (c.network !== network || c.length < bestLen || !prefixContains(c.address, c.length, ip)) continue;
      const s = this.#services.get(c.key);
      if (!s || rankServices([s], clientNamespace).length === 0) continue;
      if (c.length > bestLen) {
        bestLen = c.length;
        candidates = [];
      }
      candidates.push(s);
    }
    return rankServices(candidates, clientNamespace)[0];
  }

  /** Services with this hostname visible to `clientNamespace`, best first. */
  servicesByHostname(hostname: string, clientNamespace?: string): Service[] {
    return rankServices(this.#keysToServices(this.#servicesByHost.get(hostname) ?? []), clientNamespace);
  }

  #keysToServices(keys: Iterable<string>): Service[] {
    const out: Service[] = [];
    for (const k of keys) {
      const s = this.#services.get(k);
      if (s) out.push(s);
    }
    return out;
  }

  /** The endpoints of a service (known or not yet), sorted by workload uid. Shared; do not mutate. */
  endpoints(key: string): readonly Endpoint[] {
    const cached = this.#endpointCache.get(key);
    if (cached) return cached;
    const eps = this.#endpoints.get(key);
    if (!eps) return [];
    const out: Endpoint[] = [];
    for (const [uid, ports] of eps) {
      const workload = this.#workloads.get(uid);
      if (workload) out.push({ workload, ports });
    }
    out.sort((a, b) => (a.workload.uid < b.workload.uid ? -1 : a.workload.uid > b.workload.uid ? 1 : 0));
    this.#endpointCache.set(key, out);
    return out;
  }

  /** Endpoints whose service has not arrived yet: service key → uid → ports (config_dump `stagedServices`). */
  stagedServices(): Map<string, Map<string, PortMap>> {
    const out = new Map<string, Map<string, PortMap>>();
    for (const [key, eps] of this.#endpoints) if (!this.#services.has(key)) out.set(key, new Map(eps));
    return out;
  }

  localWorkloads(node: string): Workload[] {
    return this.allWorkloads().filter((w) => w.node === node);
  }

  /**
   * The node-local workload istio-cni names by (name, namespace, service account), as ztunnel's
   * `find_by_info` matches a ZDS pod to xDS (its ZDS uid is never compared). `node` empty: any node.
   */
  findByInfo(
    node: string,
    info: { name: string; namespace: string; serviceAccount: string },
  ): Workload | undefined {
    for (const w of this.#workloads.values()) {
      if (node && w.node !== node) continue;
      if (
        w.name === info.name && w.namespace === info.namespace && w.serviceAccount === info.serviceAccount
      ) {
        return w;
      }
    }
    return undefined;
  }

  /** All workloads, sorted by uid. */
  allWorkloads(): Workload[] {
    return [...this.#workloads.values()].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  }

  /** All services, sorted by hostname then namespace. */
  allServices(): Service[] {
    return [...this.#services.values()].sort((a, b) =>
      a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.namespace < b.namespace ? -1 : 1
    );
  }

  /** All policies, sorted by `ns/name`. */
  allPolicies(): Authorization[] {
    return [...this.#policies.values()].sort((a, b) => (policyKey(a) < policyKey(b) ? -1 : 1));
  }

  policy(key: string): Authorization | undefined {
    return this.#policies.get(key);
  }
}
