/**
 * Endpoint selection: locality preference (ztunnel's Strict/Failover ranking) and a deterministic smooth
 * weighted round robin whose cursor lives in {@link LoadBalancerState}, one per service key.
 * ztunnel picks at random weighted by capacity; zt round-robins with the same weights so that
 * tests and benches are reproducible.
 */
import type { LoadBalancer, LoadBalancingScope, Workload } from "./types.ts";

export interface Weighted<T> {
  /** Stable identity of the candidate (workload uid). */
  readonly id: string;
  readonly weight: number;
  readonly item: T;
}

/** Smooth weighted round-robin cursors (nginx's algorithm), keyed by service key. */
export class LoadBalancerState {
  #cursors = new Map<string, Map<string, number>>();

  /**
   * Picks one candidate. Candidates with weight ≤ 0 are never picked; undefined when none is left.
   * Over any window of `sum(weights)` picks each candidate is chosen `weight` times, interleaved.
   */
  pick<T>(key: string, candidates: readonly Weighted<T>[]): T | undefined {
    const live = candidates.filter((c) => c.weight > 0);
    if (live.length === 0) return undefined;
    const old = this.#cursors.get(key);
    const next = new Map<string, number>();
    let total = 0;
    let best: Weighted<T> | undefined;
    let bestCurrent = -Infinity;
    for (const c of live) {
      const current = (old?.get(c.id) ?? 0) + c.weight;
      next.set(c.id, current);
      total += c.weight;
      if (current > bestCurrent) {
        best = c;
        bestCurrent = current;
      }
    }
    next.set(best!.id, bestCurrent - total);
    this.#cursors.set(key, next);
    return best!.item;
  }

  /** Forgets a service's cursor (e.g. when the service is removed). */
  forget(key: string): void {
    this.#cursors.delete(key);
  }
}

function scopeMatches(scope: LoadBalancingScope, src: Workload, dst: Workload): boolean {
  switch (scope) {
    case "Region":
      return (src.locality?.region ?? "") === (dst.locality?.region ?? "");
    case "Zone":
      return (src.locality?.zone ?? "") === (dst.locality?.zone ?? "");
    case "Subzone":
      return (src.locality?.subzone ?? "") === (dst.locality?.subzone ?? "");
    case "Node":
      return src.node === dst.node;
    case "Cluster":
      return src.clusterId === dst.clusterId;
    case "Network":
      return src.network === dst.network;
  }
}

/**
 * Applies a service's routing preferences (modes Strict and Failover): the rank of an endpoint is the
 * number of leading preferences it shares with the source; only the best-ranked endpoints are kept, and
 * Strict drops endpoints that do not match every preference. Other modes keep every endpoint.
 */
export function preferLocality<T extends { readonly workload: Workload }>(
  lb: LoadBalancer | undefined,
  src: Workload | undefined,
  endpoints: readonly T[],
): T[] {
  if (!lb || (lb.mode !== "Strict" && lb.mode !== "Failover")) return [...endpoints];
  const prefs = lb.routingPreferences;
  const ranked: Array<{ rank: number; ep: T }> = [];
  for (const ep of endpoints) {
    let rank = 0;
    if (src) {
      for (const scope of prefs) {
        if (!scopeMatches(scope, src, ep.workload)) break;
        rank++;
      }
    }
    if (lb.mode === "Strict" && rank !== prefs.length) continue;
    ranked.push({ rank, ep });
  }
  const max = Math.max(-1, ...ranked.map((r) => r.rank));
  return ranked.filter((r) => r.rank === max).map((r) => r.ep);
}
