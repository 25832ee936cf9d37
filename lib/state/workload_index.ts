/**
 * Workloads by uid, by `network/ip` and by IP on any network, and the endpoints of each service they
 * name (kept for services that have not arrived yet too).
 */
import { addressKey, type PortMap, type Workload } from "./types.ts";

export interface Endpoint {
  readonly workload: Workload;
  readonly ports: PortMap;
}

export class WorkloadIndex {
  #workloads = new Map<string, Workload>();
  /** `network/ip` → uid (HostNetwork workloads are not indexed). */
  #workloadsByAddr = new Map<string, string>();
  /** ip → uids on any network (inbound lookups, where the network is implied by the node). */
  #workloadsByIp = new Map<string, Set<string>>();
  /** service key → uid → ports, derived from workloads' `services` maps (kept for unknown services too). */
  #endpoints = new Map<string, Map<string, PortMap>>();
  /** service key → sorted endpoints, rebuilt lazily after a workload of that service changes. */
  #endpointCache = new Map<string, readonly Endpoint[]>();

  /** Indexes `w`, replacing the workload with the same uid. */
  set(w: Workload): void {
    this.delete(w.uid);
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

  /** Drops the workload and its addresses and endpoints; false when there was none. */
  delete(uid: string): boolean {
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

  clear(): void {
    this.#workloads.clear();
    this.#workloadsByAddr.clear();
    this.#workloadsByIp.clear();
    this.#endpoints.clear();
    this.#endpointCache.clear();
  }

  get(uid: string): Workload | undefined {
    return this.#workloads.get(uid);
  }

  byAddress(network: string, ip: string): Workload | undefined {
    const uid = this.#workloadsByAddr.get(addressKey({ network, address: ip }));
    return uid === undefined ? undefined : this.#workloads.get(uid);
  }

  /** Non-HostNetwork workloads with this IP on any network, sorted by uid. */
  withIp(ip: string): Workload[] {
    const uids = [...(this.#workloadsByIp.get(ip) ?? [])].sort();
    return uids.map((u) => this.#workloads.get(u)).filter((w): w is Workload => w !== undefined);
  }

  /** Every workload, in indexing order. */
  values(): IterableIterator<Workload> {
    return this.#workloads.values();
  }

  /** All workloads, sorted by uid. */
  all(): Workload[] {
    return [...this.#workloads.values()].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
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

  /** Endpoints of the service keys `known` says no to: service key → uid → ports (copies). */
  endpointsOfUnknown(known: (serviceKey: string) => boolean): Map<string, Map<string, PortMap>> {
    const out = new Map<string, Map<string, PortMap>>();
    for (const [key, eps] of this.#endpoints) if (!known(key)) out.set(key, new Map(eps));
    return out;
  }
}
