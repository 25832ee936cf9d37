/**
 * The mesh state: workloads, services and policies with the indexes the data path needs. No I/O;
 * the xDS client and the local config source write into it, proxies and the admin server read it.
 */
import { type Authorization, policyKey } from "../policy/model.ts";
import { ServiceIndex } from "./service_index.ts";
import type { PortMap, Service, Workload } from "./types.ts";
import { type Endpoint, WorkloadIndex } from "./workload_index.ts";

export type StateChangeKind = "workload" | "service" | "policy" | "all";
export interface StateChange {
  readonly kind: StateChangeKind;
}
export type StateListener = (change: StateChange) => void;

export interface StateSnapshot {
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  readonly policies: readonly Authorization[];
}

export class ProxyState {
  #version = 0;
  #listeners = new Set<StateListener>();
  #batchDepth = 0;
  /** Kinds changed inside the current batch, notified when it ends. */
  #held = new Set<StateChangeKind>();
  readonly #workloads = new WorkloadIndex();
  readonly #services = new ServiceIndex();
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

  upsertWorkload(w: Workload): void {
    this.#workloads.set(w);
    this.#changed("workload");
  }

  removeWorkload(uid: string): boolean {
    if (!this.#workloads.delete(uid)) return false;
    this.#changed("workload");
    return true;
  }

  // ---- services ----

  upsertService(s: Service): void {
    this.#services.set(s);
    this.#changed("service");
  }

  removeService(key: string): boolean {
    if (!this.#services.delete(key)) return false;
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
    this.#services.clear();
    this.#policies.clear();
    for (const w of snapshot.workloads) this.#workloads.set(w);
    for (const s of snapshot.services) this.#services.set(s);
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
    return this.#workloads.byAddress(network, ip);
  }

  /** Non-HostNetwork workloads with this IP on any network, sorted by uid. */
  workloadsWithIp(ip: string): Workload[] {
    return this.#workloads.withIp(ip);
  }

  service(key: string): Service | undefined {
    return this.#services.get(key);
  }

  /** The service a VIP belongs to: exact VIPs first, then the longest CIDR prefix, best ranked first. */
  serviceByAddress(network: string, ip: string, clientNamespace?: string): Service | undefined {
    return this.#services.byAddress(network, ip, clientNamespace);
  }

  /** Services with this hostname visible to `clientNamespace`, best first. */
  servicesByHostname(hostname: string, clientNamespace?: string): Service[] {
    return this.#services.byHostname(hostname, clientNamespace);
  }

  /** The endpoints of a service (known or not yet), sorted by workload uid. Shared; do not mutate. */
  endpoints(key: string): readonly Endpoint[] {
    return this.#workloads.endpoints(key);
  }

  /** Endpoints whose service has not arrived yet: service key → uid → ports (config_dump `stagedServices`). */
  stagedServices(): Map<string, Map<string, PortMap>> {
    return this.#workloads.endpointsOfUnknown((key) => this.#services.has(key));
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
    return this.#workloads.all();
  }

  /** All services, sorted by hostname then namespace. */
  allServices(): Service[] {
    return this.#services.all();
  }

  /** All policies, sorted by `ns/name`. */
  allPolicies(): Authorization[] {
    return [...this.#policies.values()].sort((a, b) => (policyKey(a) < policyKey(b) ? -1 : 1));
  }

  policy(key: string): Authorization | undefined {
    return this.#policies.get(key);
  }
}
