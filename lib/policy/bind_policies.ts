/**
 * Which converted policies each workload lists in `authorizationPolicies`, as istiod computes it:
 * the WORKLOAD_SELECTOR policies of its namespace or the root namespace whose labels it carries
 * (sorted), then the PeerAuthentication-derived keys. Also adds the PeerAuthentication-derived
 * policies themselves (the static STRICT one and the port-level ones).
 */
import {
  convertPeerAuthentication,
  peerAuthenticationKeys,
  staticStrictPolicy,
} from "./convert_peer_authentication.ts";
import { hasLabels, labelsMatch, type PeerAuthn, type PolicySelector } from "./istio_resources.ts";
import type { Authorization } from "./model.ts";

export interface BindableWorkload {
  readonly uid: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface BindInput {
  readonly policies: readonly Authorization[];
  readonly selectors: readonly PolicySelector[];
  /** Oldest first: at each level the first one wins, like istiod's creationTimestamp order. */
  readonly peerAuthentications: readonly PeerAuthn[];
}

export interface Bound {
  /** The input policies plus the PeerAuthentication-derived ones istiod would send. */
  readonly policies: Authorization[];
  /** Workload uid → `ns/name` keys, for its `authorizationPolicies`. */
  readonly bindings: Map<string, string[]>;
}

/** The PeerAuthentications that reach a workload (istiod's `fetchPeerAuthentications`). */
function peerAuthsFor(pas: readonly PeerAuthn[], wl: BindableWorkload, rootNamespace: string): PeerAuthn[] {
  return pas.filter((pa) => {
    if (pa.namespace === rootNamespace && pa.selector === undefined) return true;
    if (pa.namespace !== wl.namespace) return false;
    return pa.selector === undefined || labelsMatch(pa.selector, wl.labels);
  });
}

export function bindPolicies(
  conv: BindInput,
  workloads: ReadonlyArray<BindableWorkload>,
  rootNamespace: string,
): Bound {
  const pas = conv.peerAuthentications;
  const policies = [...conv.policies];
  if (pas.length > 0) {
    policies.push(staticStrictPolicy(rootNamespace));
    // istiod's PeerAuthByNamespace index: only PeerAuthentications without any selector.
    const levelPolicy = (ns: string) => pas.find((p) => p.namespace === ns && p.selector === undefined);
    const rootPa = levelPolicy(rootNamespace);
    for (const pa of pas) {
      const converted = convertPeerAuthentication(rootNamespace, pa, levelPolicy(pa.namespace), rootPa);
      if (converted) policies.push(converted);
    }
  }
  const bindings = new Map<string, string[]>();
  for (const wl of workloads) {
    const selected = conv.selectors
      .filter((s) =>
        (s.namespace === wl.namespace || s.namespace === rootNamespace) && hasLabels(s.matchLabels) &&
        labelsMatch(s.matchLabels, wl.labels)
      )
      .map((s) => s.key)
      .sort();
    const keys = [...new Set(selected)];
    if (pas.length > 0) {
      keys.push(...peerAuthenticationKeys(rootNamespace, peerAuthsFor(pas, wl, rootNamespace)));
    }
    bindings.set(wl.uid, keys);
  }
  return { policies, bindings };
}
