import assert from "node:assert/strict";
import { PolicyIndex } from "../../lib/policy/evaluate.ts";
import { explain, formatExplanation } from "../../lib/policy/explain.ts";
import type { PolicyTarget } from "../../lib/policy/model.ts";
import { conn, id, match, policy } from "./fixtures.ts";

const sleep = [[[
  match({ principals: [{ kind: "exact" as const, value: "cluster.local/ns/ns/sa/sleep" }] }),
]]];
const index = new PolicyIndex([
  policy("allow-sleep", { rules: sleep }),
  policy("deny-plaintext", {
    namespace: "istio-system",
    scope: "Global",
    action: "Deny",
    rules: [[[match({ notPrincipals: [{ kind: "presence" }] })]]],
  }),
  policy("watch", { scope: "WorkloadSelector", action: "Deny", rules: [[]], dryRun: true }),
  policy("elsewhere", { namespace: "other" }),
]);
const target: PolicyTarget = { namespace: "ns", authorizationPolicies: ["ns/watch", "ns/gone"] };

Deno.test("explain lists each applicable policy, how it applies and whether it matched", () => {
  const cases: [string, ReturnType<typeof conn>, boolean, string, boolean[]][] = [
    ["sleep", conn("10.0.0.1", id("ns", "sleep"), "10.0.0.2", 80), true, "allowed by ns/allow-sleep", [
      true,
      false,
      true,
    ]],
    [
      "other",
      conn("10.0.0.1", id("ns", "other"), "10.0.0.2", 80),
      false,
      "allow policies exist, but none allowed",
      [false, false, true],
    ],
    [
      "plaintext",
      conn("10.0.0.1", undefined, "10.0.0.2", 80),
      false,
      "explicitly denied by: istio-system/deny-plaintext",
      [false, true, true],
    ],
  ];
  for (const [name, c, allowed, reason, matched] of cases) {
    const e = explain(index, target, c);
    assert.equal(e.decision.allowed, allowed, name);
    assert.equal(e.decision.reason, reason, name);
    assert.deepEqual(e.decision.dryRunMatches, ["ns/watch"], name);
    assert.deepEqual(e.applicable, [
      { key: "ns/allow-sleep", action: "Allow", dryRun: false, via: "namespace", matched: matched[0] },
      {
        key: "istio-system/deny-plaintext",
        action: "Deny",
        dryRun: false,
        via: "global",
        matched: matched[1],
      },
      { key: "ns/watch", action: "Deny", dryRun: true, via: "workload", matched: matched[2] },
    ], name);
    assert.deepEqual(e.unknownKeys, ["ns/gone"], name);
  }
});

Deno.test("formatExplanation is a readable summary", () => {
  const c = conn("10.0.0.1", undefined, "10.0.0.2", 80);
  assert.equal(
    formatExplanation(explain(index, target, c), c),
    [
      "connection: 10.0.0.1 (no identity (plaintext)) -> 10.0.0.2:80",
      "decision: DENY (explicitly denied by: istio-system/deny-plaintext)",
      "applicable policies (3):",
      "  ns/allow-sleep ALLOW via namespace: no match",
      "  istio-system/deny-plaintext DENY via global: matched",
      "  ns/watch DENY dry-run via workload: matched",
      "  ns/gone: listed by the workload but unknown (skipped)",
      "dry-run matches (not enforced): ns/watch",
    ].join("\n"),
  );
  const none = explain(new PolicyIndex([]), { namespace: "ns", authorizationPolicies: [] }, c);
  assert.equal(
    formatExplanation(none, c),
    "connection: 10.0.0.1 (no identity (plaintext)) -> 10.0.0.2:80\ndecision: ALLOW (no allow policies, allow)\napplicable policies: none",
  );
});
