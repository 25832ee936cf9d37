/**
 * security.istio.io AuthorizationPolicy → ztunnel Authorization, as istiod's
 * `convertAuthorizationPolicy` does it for ambient: scope from the selector and the root namespace,
 * ALLOW/DENY only, HTTP attributes reported (and their ALLOW rules dropped), targetRef(s) skipped.
 */
import { ZtError } from "../error.ts";
import { convertRule } from "./convert_authorization_rule.ts";
import { asFields, asList, asString, checkKeys, fail } from "./fields.ts";
import { type DocMeta, parseSelector, type PolicySelector } from "./istio_resources.ts";
import type { Action, Authorization, Rule, Scope } from "./model.ts";
import { policyKey } from "./model.ts";

export const DRY_RUN_ANNOTATION = "istio.io/dry-run";

export interface ConvertPolicyOptions {
  readonly rootNamespace: string;
  /** istiod's AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY; zt enables it unless told otherwise. */
  readonly enableDryRun?: boolean;
}

export interface PolicyConversion {
  /** Absent when the document is valid but not for ztunnel (targetRef, disabled dry-run). */
  readonly policy?: Authorization;
  readonly selector?: PolicySelector;
  readonly warnings: readonly string[];
}

const HTTP_RULE =
  "ztunnel does not support HTTP attributes (found: %s). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ";
const HTTP_DENY_NO_EFFECT =
  "After omitting unsupported HTTP attributes, this DENY policy has no enforceable rules at ztunnel and will have no effect. Deploy a waypoint proxy and use a targetRef to enforce this policy.";
const HTTP_DENY_MIXED =
  "DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.";
const HTTP_ALLOW =
  "Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.";

/** Go's strconv.ParseBool. */
function parseGoBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}

/** istiod's `hasEffectiveRules`: some rule can fire (no clauses, or every clause has a non-empty match). */
export function hasEffectiveRules(rules: readonly Rule[]): boolean {
  return rules.some((rule) =>
    rule.every((clause) =>
      clause.some((m) => Object.values(m).some((list) => (list as readonly unknown[]).length > 0))
    )
  );
}

function parseAction(raw: unknown): Action {
  if (raw === undefined || raw === null) return "Allow";
  const a = asString(raw, "spec.action");
  switch (a) {
    case "ALLOW":
      return "Allow";
    case "DENY":
      return "Deny";
    case "AUDIT":
    case "CUSTOM":
      throw new ZtError("config", `ztunnel does not support the ${a} action`);
    default:
      return fail(
        "spec.action",
        `unknown action ${JSON.stringify(a)} (expected ALLOW, DENY, AUDIT or CUSTOM)`,
      );
  }
}

/** Throws ZtError("config") for a document Istio would refuse (message names the field). */
export function convertAuthorizationPolicy(
  meta: DocMeta,
  specRaw: unknown,
  opts: ConvertPolicyOptions,
): PolicyConversion {
  const spec = asFields(specRaw ?? {}, "spec");
  checkKeys(spec, ["selector", "targetRef", "targetRefs", "action", "provider", "rules"], "spec");
  const warnings: string[] = [];
  const selector = parseSelector(spec.selector, "spec.selector");
  const targetRefs = [
    ...(spec.targetRef === undefined || spec.targetRef === null
      ? []
      : [asFields(spec.targetRef, "spec.targetRef")]),
    ...(spec.targetRefs === undefined || spec.targetRefs === null
      ? []
      : asList(spec.targetRefs, "spec.targetRefs")),
  ];
  if ((selector ? 1 : 0) + (spec.targetRef ? 1 : 0) + (spec.targetRefs ? 1 : 0) > 1) {
    fail("spec", "only one of targetRefs or workloadSelector can be set");
  }
  if (selector && Object.keys(selector).length === 0) {
    warnings.push("workload selector specified without labels: in ambient mode it selects no workload");
  }
  const action = parseAction(spec.action);
  if (spec.provider !== undefined && spec.provider !== null) {
    fail("spec.provider", `\`provider\` must not be with non CUSTOM action, found ${spec.action ?? "ALLOW"}`);
  }
  const rawRules = spec.rules === undefined || spec.rules === null
    ? undefined
    : asList(spec.rules, "spec.rules");
  if (action === "Deny" && rawRules === undefined) {
    warnings.push(
      "DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request",
    );
  }

  let dryRun = false;
  const dryRunText = meta.annotations[DRY_RUN_ANNOTATION];
  if (dryRunText !== undefined && dryRunText !== "") {
    const parsed = parseGoBool(dryRunText);
    if (parsed === undefined) {
      warnings.push(
        `unable to parse the ${DRY_RUN_ANNOTATION} annotation ${JSON.stringify(dryRunText)}; enforcing`,
      );
    }
    dryRun = parsed ?? false;
  }

  const rules: Rule[] = [];
  const l7 = new Set<string>();
  (rawRules ?? []).forEach((r, i) => {
    const conv = convertRule(r, `spec.rules[${i}]`, action, meta.namespace);
    if (conv.clauses) rules.push(conv.clauses);
    conv.l7.forEach((f) => l7.add(f));
    warnings.push(...conv.warnings);
  });

  if (targetRefs.length > 0) {
    warnings.push("targetRef(s) policies are enforced by waypoints, not by ztunnel: not applied");
    return { warnings };
  }
  if (dryRun && opts.enableDryRun === false) {
    warnings.push(
      `found policy "${meta.namespace}/${meta.name}" using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled`,
    );
    return { warnings };
  }
  const scope: Scope = selector
    ? "WorkloadSelector"
    : meta.namespace === opts.rootNamespace
    ? "Global"
    : "Namespace";
  const policy: Authorization = { name: meta.name, namespace: meta.namespace, scope, action, rules, dryRun };
  if (l7.size > 0) {
    const boilerplate = action === "Deny"
      ? (hasEffectiveRules(rules) ? HTTP_DENY_MIXED : HTTP_DENY_NO_EFFECT)
      : HTTP_ALLOW;
    warnings.push(HTTP_RULE.replace("%s", [...l7].sort().join(", ")) + boilerplate);
  }
  const sel = selector
    ? { key: policyKey(policy), namespace: meta.namespace, matchLabels: selector }
    : undefined;
  return { policy, selector: sel, warnings };
}
