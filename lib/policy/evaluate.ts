/**
 * L4 authorization decisions exactly as ztunnel makes them (`DemandProxyState::assert_rbac`):
 * the policies of the destination's namespace, the global ones and the keys the workload lists apply;
 * a matching enforced DENY rejects; no enforced ALLOW → allow; else one ALLOW must match.
 * Dry-run policies are evaluated and reported, never enforced.
 */
import { type CompiledPolicy, compilePolicy, ConnFacts, policyMatches } from "./compile.ts";
import type { Authorization, Decision, PolicyTarget, RbacConnection } from "./model.ts";
import { policyKey } from "./model.ts";

/** How a policy came to apply to a workload. */
export type AppliesVia = "namespace" | "global" | "workload";

export interface ApplicablePolicy {
  readonly key: string;
  readonly policy: Authorization;
  readonly via: AppliesVia;
}

/** ztunnel files Global policies under namespace "". */
const GLOBAL_NS = "";

/** One indexed policy; compiled on first use and kept (memoised, not observable state). */
class Entry {
  #compiled?: CompiledPolicy;
  constructor(readonly key: string, readonly policy: Authorization) {}

  get compiled(): CompiledPolicy {
    return this.#compiled ??= compilePolicy(this.policy);
  }
}

/**
 * An immutable index of policies: by `ns/name` key, Namespace-scoped ones by namespace, Global ones in
 * one list. Policies are compiled the first time a decision needs them, so building or updating an
 * index of 10,000 policies is cheap and a decision only touches the policies that apply to it.
 * A later policy with the same key replaces an earlier one.
 */
export class PolicyIndex {
  readonly #byKey: Map<string, Entry>;
  readonly #byNamespace: Map<string, Entry[]>;

  /** `reuse`: an earlier index whose compiled entries are kept for the very same policy objects. */
  constructor(policies: Iterable<Authorization> = [], reuse?: PolicyIndex) {
    this.#byKey = new Map();
    for (const p of policies) {
      const key = policyKey(p);
      const prior = reuse ? reuse.#byKey.get(key) : undefined;
      this.#byKey.set(key, prior && prior.policy === p ? prior : new Entry(key, p));
    }
    this.#byNamespace = new Map();
    for (const e of this.#byKey.values()) {
      const scope = e.policy.scope;
      if (scope === "WorkloadSelector") continue;
      const ns = scope === "Global" ? GLOBAL_NS : e.policy.namespace;
      const list = this.#byNamespace.get(ns);
      if (list) list.push(e);
      else this.#byNamespace.set(ns, [e]);
    }
  }

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): Authorization | undefined {
    return this.#byKey.get(key)?.policy;
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** All policies, in insertion order. */
  policies(): Authorization[] {
    return [...this.#byKey.values()].map((e) => e.policy);
  }

  /** A new index with `upserts` added or replaced and `removals` (keys) dropped; unchanged ones are reused. */
  update(upserts: readonly Authorization[], removals: readonly string[] = []): PolicyIndex {
    const next = new Map<string, Authorization>();
    for (const [k, e] of this.#byKey) next.set(k, e.policy);
    for (const k of removals) next.delete(k);
    for (const p of upserts) next.set(policyKey(p), p);
    return new PolicyIndex(next.values(), this);
  }

  /** @internal the compiled policy for a key, for the evaluator and explanations. */
  compiled(key: string): CompiledPolicy | undefined {
    return this.#byKey.get(key)?.compiled;
  }

  /** @internal */
  forNamespace(ns: string, fn: (cp: CompiledPolicy) => void): void {
    const list = this.#byNamespace.get(ns);
    if (list) { for (const e of list) fn(e.compiled); }
  }
}

/**
 * Calls `fn` for each applicable policy in ztunnel's order (namespace, global, workload-listed);
 * unknown workload keys go to `onUnknown`. A policy reachable twice is visited twice, as in ztunnel.
 */
export function forEachApplicable(
  index: PolicyIndex,
  target: PolicyTarget,
  fn: (cp: CompiledPolicy, via: AppliesVia) => void,
  onUnknown?: (key: string) => void,
): void {
  index.forNamespace(target.namespace, (cp) => fn(cp, "namespace"));
  if (target.namespace !== GLOBAL_NS) index.forNamespace(GLOBAL_NS, (cp) => fn(cp, "global"));
  for (const key of target.authorizationPolicies) {
    const cp = index.compiled(key);
    if (cp) fn(cp, "workload");
    else onUnknown?.(key);
  }
}

/** The policies that apply to a destination, each once (first way it applies wins), and unknown keys. */
export function applicablePolicies(
  index: PolicyIndex,
  target: PolicyTarget,
): { applicable: ApplicablePolicy[]; unknownKeys: string[] } {
  const applicable: ApplicablePolicy[] = [];
  const seen = new Set<string>();
  const unknownKeys: string[] = [];
  forEachApplicable(index, target, (cp, via) => {
    if (seen.has(cp.key)) return;
    seen.add(cp.key);
    applicable.push({ key: cp.key, policy: cp.policy, via });
  }, (key) => unknownKeys.push(key));
  return { applicable, unknownKeys };
}

export const REASON_NOT_ALLOWED = "allow policies exist, but none allowed";
export const REASON_NO_ALLOW_POLICIES = "no allow policies, allow";

export function deniedReason(key: string): string {
  return `explicitly denied by: ${key}`;
}

export function allowedReason(key: string): string {
  return `allowed by ${key}`;
}

/** Decides one connection to `target`. Pure; a deny is a value. */
export function evaluate(index: PolicyIndex, target: PolicyTarget, conn: RbacConnection): Decision {
  const facts = new ConnFacts(conn);
  const dryRunMatches: string[] = [];
  const noteDryRun = (cp: CompiledPolicy) => {
    if (!dryRunMatches.includes(cp.key) && policyMatches(cp, facts)) dryRunMatches.push(cp.key);
  };

  // 1–2: dry-run DENY policies are recorded; the first matching enforced DENY rejects.
  let deniedBy: CompiledPolicy | undefined;
  forEachApplicable(index, target, (cp) => {
    if (cp.policy.action !== "Deny") return;
    if (cp.policy.dryRun) noteDryRun(cp);
    else if (!deniedBy && policyMatches(cp, facts)) deniedBy = cp;
  });
  if (deniedBy) {
    return { allowed: false, reason: deniedReason(deniedBy.key), policy: deniedBy.key, dryRunMatches };
  }

  // 3–6: dry-run ALLOW policies are recorded; enforced ALLOW policies decide.
  let enforcedAllows = 0;
  let allowedBy: CompiledPolicy | undefined;
  forEachApplicable(index, target, (cp) => {
    if (cp.policy.action !== "Allow") return;
    if (cp.policy.dryRun) return noteDryRun(cp);
    enforcedAllows++;
    if (!allowedBy && policyMatches(cp, facts)) allowedBy = cp;
  });
  if (enforcedAllows === 0) return { allowed: true, reason: REASON_NO_ALLOW_POLICIES, dryRunMatches };
  if (allowedBy) {
    return { allowed: true, reason: allowedReason(allowedBy.key), policy: allowedBy.key, dryRunMatches };
  }
  return { allowed: false, reason: REASON_NOT_ALLOWED, dryRunMatches };
}
