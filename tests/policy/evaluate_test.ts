import assert from "node:assert/strict";
import { applicablePolicies, evaluate, PolicyIndex } from "../../lib/policy/evaluate.ts";
import type { Authorization, Decision, PolicyTarget, Rule } from "../../lib/policy/model.ts";
import { conn, id, match, plaintext, policy } from "./fixtures.ts";

const target: PolicyTarget = { namespace: "ns", authorizationPolicies: [] };
const fromSleep = conn("10.0.0.1", id("ns", "sleep"), "10.0.0.2", 8080);
const fromOther = conn("10.0.0.3", id("ns", "other"), "10.0.0.2", 8080);
const sleepOnly: Rule[] = [[[
  match({ principals: [{ kind: "exact", value: "cluster.local/ns/ns/sa/sleep" }] }),
]]];
const everything: Rule[] = [[]];

function decide(policies: Authorization[], t: PolicyTarget = target, c = fromSleep): Decision {
  return evaluate(new PolicyIndex(policies), t, c);
}

Deno.test("decisions and ztunnel's reasons", () => {
  const cases: [string, Authorization[], Decision][] = [
    ["no policies", [], { allowed: true, reason: "no allow policies, allow", dryRunMatches: [] }],
    [
      "empty ALLOW denies all",
      [policy("deny-all")],
      { allowed: false, reason: "allow policies exist, but none allowed", dryRunMatches: [] },
    ],
    ["empty DENY denies nothing", [policy("nothing", { action: "Deny" })], {
      allowed: true,
      reason: "no allow policies, allow",
      dryRunMatches: [],
    }],
    ["matching ALLOW", [policy("a", { rules: sleepOnly })], {
      allowed: true,
      reason: "allowed by ns/a",
      policy: "ns/a",
      dryRunMatches: [],
    }],
    ["matching DENY", [policy("d", { action: "Deny", rules: sleepOnly })], {
      allowed: false,
      reason: "explicitly denied by: ns/d",
      policy: "ns/d",
      dryRunMatches: [],
    }],
    ["DENY wins over ALLOW", [
      policy("a", { rules: everything }),
      policy("d", { action: "Deny", rules: sleepOnly }),
    ], {
      allowed: false,
      reason: "explicitly denied by: ns/d",
      policy: "ns/d",
      dryRunMatches: [],
    }],
    ["one of several ALLOWs suffices", [policy("a1"), policy("a2", { rules: sleepOnly })], {
      allowed: true,
      reason: "allowed by ns/a2",
      policy: "ns/a2",
      dryRunMatches: [],
    }],
  ];
  for (const [name, policies, want] of cases) assert.deepEqual(decide(policies), want, name);
});

Deno.test("which policies apply: own namespace, global, and listed keys only", () => {
  const policies = [
    policy("other-ns", { namespace: "other", rules: [] }), // Namespace-scoped elsewhere: ignored
    policy("selector", { scope: "WorkloadSelector", action: "Deny", rules: everything }), // only when listed
    policy("mesh", { namespace: "istio-system", scope: "Global", action: "Deny", rules: sleepOnly }),
  ];
  const index = new PolicyIndex(policies);
  const listed = { namespace: "ns", authorizationPolicies: ["ns/selector"] };
  const cases: [string, PolicyTarget, typeof fromSleep, string][] = [
    ["global applies across namespaces", target, fromSleep, "explicitly denied by: istio-system/mesh"],
    ["selector applies when listed", listed, fromOther, "explicitly denied by: ns/selector"],
    ["selector ignored when not listed", target, fromOther, "no allow policies, allow"],
    [
      "unknown keys are skipped",
      { namespace: "ns", authorizationPolicies: ["ns/missing"] },
      fromOther,
      "no allow policies, allow",
    ],
    [
      "another namespace's policies never apply",
      { namespace: "third", authorizationPolicies: [] },
      fromOther,
      "no allow policies, allow",
    ],
  ];
  for (const [name, t, c, reason] of cases) assert.equal(evaluate(index, t, c).reason, reason, name);
  assert.deepEqual(
    applicablePolicies(index, { namespace: "other", authorizationPolicies: ["ns/selector", "x/y"] }),
    {
      applicable: [
        { key: "other/other-ns", policy: policies[0], via: "namespace" },
        { key: "istio-system/mesh", policy: policies[2], via: "global" },
        { key: "ns/selector", policy: policies[1], via: "workload" },
      ],
      unknownKeys: ["x/y"],
    },
  );
});

Deno.test("a workload listing a policy twice (namespace and key) still decides once", () => {
  const p = policy("a", { rules: sleepOnly });
  const d = decide([p], { namespace: "ns", authorizationPolicies: ["ns/a"] }, fromOther);
  assert.equal(d.reason, "allow policies exist, but none allowed");
  assert.deepEqual(
    applicablePolicies(new PolicyIndex([p]), { namespace: "ns", authorizationPolicies: ["ns/a"] }).applicable
      .length,
    1,
  );
});

Deno.test("dry-run policies are recorded, never enforced", () => {
  const cases: [string, Authorization[], Omit<Decision, "policy"> & { policy?: string }][] = [
    ["dry-run DENY that matches", [policy("dd", { action: "Deny", rules: sleepOnly, dryRun: true })], {
      allowed: true,
      reason: "no allow policies, allow",
      dryRunMatches: ["ns/dd"],
    }],
    ["dry-run ALLOW alone is not an allow policy", [policy("da", { dryRun: true })], {
      allowed: true,
      reason: "no allow policies, allow",
      dryRunMatches: [],
    }],
    ["dry-run ALLOW that matches, recorded", [policy("da", { rules: sleepOnly, dryRun: true })], {
      allowed: true,
      reason: "no allow policies, allow",
      dryRunMatches: ["ns/da"],
    }],
    [
      "dry-run DENY recorded even when an enforced DENY rejects",
      [
        policy("dd", { action: "Deny", rules: everything, dryRun: true }),
        policy("d", { action: "Deny", rules: everything }),
      ],
      { allowed: false, reason: "explicitly denied by: ns/d", policy: "ns/d", dryRunMatches: ["ns/dd"] },
    ],
    [
      "dry-run deny-all ALLOW next to an enforced ALLOW",
      [policy("da", { dryRun: true }), policy("a", { rules: sleepOnly })],
      { allowed: true, reason: "allowed by ns/a", policy: "ns/a", dryRunMatches: [] },
    ],
  ];
  for (const [name, policies, want] of cases) assert.deepEqual(decide(policies), want, name);
});

Deno.test("STRICT-style DENY (notPrincipals presence) rejects plaintext only", () => {
  const strict = policy("istio_converted_static_strict", {
    namespace: "istio-system",
    scope: "WorkloadSelector",
    action: "Deny",
    rules: [[[match({ notPrincipals: [{ kind: "presence" }] })]]],
  });
  const t = { namespace: "ns", authorizationPolicies: ["istio-system/istio_converted_static_strict"] };
  assert.equal(
    decide([strict], t, plaintext).reason,
    "explicitly denied by: istio-system/istio_converted_static_strict",
  );
  assert.equal(decide([strict], t, fromSleep).allowed, true);
});

Deno.test("PolicyIndex: keys, replacement, update and malformed CIDRs", () => {
  const a1 = policy("a", { rules: [] });
  const a2 = policy("a", { rules: everything });
  const b = policy("b", { namespace: "x", scope: "Global", action: "Deny", rules: sleepOnly });
  const index = new PolicyIndex([a1, b, a2]);
  assert.equal(index.size, 2);
  assert.equal(index.get("ns/a"), a2); // the later one replaced the earlier
  assert.equal(index.has("x/b"), true);
  assert.deepEqual(index.policies(), [a2, b]);
  assert.equal(evaluate(index, target, fromOther).reason, "allowed by ns/a");

  const next = index.update([policy("c", { action: "Deny", rules: everything })], ["x/b"]);
  assert.equal(index.size, 2, "the original index is unchanged");
  assert.deepEqual(next.policies().map((p) => `${p.namespace}/${p.name}`), ["ns/a", "ns/c"]);
  assert.equal(evaluate(next, target, fromSleep).reason, "explicitly denied by: ns/c");
  assert.equal(next.get("ns/a"), a2);
});

Deno.test("a malformed model policy (never produced by the parsers) fails closed", () => {
  const badRules: Rule[] = [[[match({ sourceIps: [{ ip: "10.0.0.300", prefixLen: 8 }] })]]];
  const badAllow = policy("bad-allow", { rules: badRules });
  const badDeny = policy("bad-deny", { action: "Deny", rules: badRules });
  assert.equal(decide([badAllow]).reason, "allow policies exist, but none allowed");
  assert.equal(decide([badAllow, policy("ok", { rules: everything })]).reason, "allowed by ns/ok");
  assert.equal(
    decide([badDeny, policy("ok", { rules: everything })]).reason,
    "explicitly denied by: ns/bad-deny",
  );
});

Deno.test("evaluation only depends on the applicable policies among many", () => {
  const policies: Authorization[] = [];
  for (let n = 0; n < 500; n++) {
    for (let i = 0; i < 10; i++) policies.push(policy(`p${i}`, { namespace: `ns-${n}`, rules: sleepOnly }));
  }
  const index = new PolicyIndex(policies);
  assert.equal(index.size, 5000);
  const t = { namespace: "ns-7", authorizationPolicies: [] };
  assert.equal(applicablePolicies(index, t).applicable.length, 10);
  assert.equal(evaluate(index, t, fromSleep).reason, "allowed by ns-7/p0");
  assert.equal(
    evaluate(index, { namespace: "empty", authorizationPolicies: [] }, fromOther).reason,
    "no allow policies, allow",
  );
});
