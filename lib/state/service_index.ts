/** Services by key, by exact VIP, by CIDR VIP and by hostname; lookups ranked by {@link rankServices}. */
import { prefixContains } from "./ip.ts";
import { rankServices } from "./rank_services.ts";
import { addressKey, type Service, serviceKey } from "./types.ts";

interface CidrEntry {
  readonly network: string;
  readonly address: string;
  readonly length: number;
  readonly key: string;
}

export class ServiceIndex {
  #services = new Map<string, Service>();
  /** `network/ip` → service keys with that exact VIP. */
  #servicesByVip = new Map<string, Set<string>>();
  #cidrVips: CidrEntry[] = [];
  /** hostname → service keys (ServiceEntry hostnames may repeat across namespaces). */
  #servicesByHost = new Map<string, Set<string>>();

  /** Indexes `s`, replacing the service with the same key. */
  set(s: Service): void {
    const key = serviceKey(s);
    this.delete(key);
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

  /** Drops the service and its VIPs and hostname; false when there was none. */
  delete(key: string): boolean {
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

  clear(): void {
    this.#services.clear();
    this.#servicesByVip.clear();
    this.#cidrVips = [];
    this.#servicesByHost.clear();
  }

  get(key: string): Service | undefined {
    return this.#services.get(key);
  }

  has(key: string): boolean {
    return this.#services.has(key);
  }

  /** The service a VIP belongs to: exact VIPs first, then the longest CIDR prefix; ranked by {@link rankServices}. */
  byAddress(network: string, ip: string, clientNamespace?: string): Service | undefined {
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
  byHostname(hostname: string, clientNamespace?: string): Service[] {
    return rankServices(this.#keysToServices(this.#servicesByHost.get(hostname) ?? []), clientNamespace);
  }

  /** All services, sorted by hostname then namespace. */
  all(): Service[] {
    return [...this.#services.values()].sort((a, b) =>
      a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.namespace < b.namespace ? -1 : 1
    );
  }

  #keysToServices(keys: Iterable<string>): Service[] {
    const out: Service[] = [];
    for (const k of keys) {
      const s = this.#services.get(k);
      if (s) out.push(s);
    }
    return out;
  }
}
