import assert from "node:assert/strict";
import { parseCidr } from "../../lib/policy/cidr.ts";
import { compilePolicy, ConnFacts, policyMatches } from "../../lib/policy/compile.ts";
import type { RbacConnection, RbacMatch, Rule } from "../../lib/policy/model.ts";
import { conn, id, match, plaintext, policy, tls, tlsAlt } from "./fixtures.ts";

function matches(rules: Rule[], c: RbacConnection): boolean {
  return policyMatches(compilePolicy(policy("p", { rules })), new ConnFacts(c));
}

Deno.test("empty structures: no rules never match, empty rule/clause match all, empty match is skipped", () => {
  const cases: [string, Rule[], boolean][] = [
    ["no rules", [], false],
    ["one rule without clauses", [[]], true],
    ["one rule with an empty clause", [[[]]], true],
    ["one all-empty match", [[[match({})]]], false],
    ["empty match next to a real one", [[[match({}), match({ destinationPorts: [8080] })]]], true],
    ["empty match clause AND-ed with a matching clause", [[[match({ destinationPorts: [8080] })], [
      match({}),
    ]]], false],
    ["a never-matching rule OR-ed with an empty rule", [[[match({})]], []], true],
  ];
  for (const [name, rules, want] of cases) {
    assert.equal(matches(rules, plaintext), want, name);
    assert.equal(matches(rules, tls), want, name);
  }
});

Deno.test("nesting: matches OR-ed within a clause, clauses AND-ed, rules OR-ed", () => {
  const nested: Rule[] = [[
    [
      match({ namespaces: [{ kind: "exact", value: "a" }] }),
      match({ namespaces: [{ kind: "exact", value: "b" }] }),
    ],
    [match({ destinationPorts: [80] })],
  ]];
  const multi: Rule[] = [
    [[match({ namespaces: [{ kind: "exact", value: "a" }] })]],
    [[match({ namespaces: [{ kind: "exact", value: "b" }] })]],
  ];
  const cases: [RbacConnection, boolean, boolean][] = [
    [conn("127.0.0.1", id("a", "account", "td"), "127.0.0.2", 80), true, true],
    [conn("127.0.0.1", id("b", "account", "td"), "127.0.0.2", 80), true, true],
    [conn("127.0.0.1", id("bad", "account", "td"), "127.0.0.2", 80), false, false],
    [conn("127.0.0.1", id("b", "account", "td"), "127.0.0.2", 12345), false, true],
  ];
  for (const [c, wantNested, wantMulti] of cases) {
    assert.equal(matches(nested, c), wantNested, `nested ${c.srcIdentity?.namespace}:${c.dstPort}`);
    assert.equal(matches(multi, c), wantMulti, `multi ${c.srcIdentity?.namespace}:${c.dstPort}`);
  }
});

Deno.test("each field family against ztunnel's rbac_test connections (plaintext, tls, tlsAlt)", () => {
  const exactNs = [{ kind: "exact" as const, value: "namespace" }];
  const sa = [{ namespace: "namespace", serviceAccount: "account" }];
  const principal = [{ kind: "exact" as const, value: "td/ns/namespace/sa/account" }];
  const cases: [string, Partial<RbacMatch>, [boolean, boolean, boolean]][] = [
    ["namespaces", { namespaces: exactNs }, [false, true, false]],
    ["notNamespaces", { notNamespaces: exactNs }, [true, false, true]],
    ["serviceAccounts", { serviceAccounts: sa }, [false, true, false]],
    ["notServiceAccounts", { notServiceAccounts: sa }, [true, false, true]],
    ["principals", { principals: principal }, [false, true, false]],
    ["notPrincipals", { notPrincipals: principal }, [true, false, true]],
    ["sourceIps", { sourceIps: [parseCidr("127.0.0.1/32")] }, [true, true, false]],
    ["notSourceIps", { notSourceIps: [parseCidr("127.0.0.1/32")] }, [false, false, true]],
    ["destinationIps", { destinationIps: [parseCidr("127.0.0.2/32")] }, [true, true, false]],
    ["notDestinationIps", { notDestinationIps: [parseCidr("127.0.0.2/32")] }, [false, false, true]],
    ["cidr range", { destinationIps: [parseCidr("127.0.0.1/24")] }, [true, true, true]],
    ["destinationPorts", { destinationPorts: [8080] }, [true, true, false]],
    ["notDestinationPorts", { notDestinationPorts: [8080] }, [false, false, true]],
    ["principal presence", { principals: [{ kind: "presence" }] }, [false, true, true]],
    ["notPrincipals presence (STRICT)", { notPrincipals: [{ kind: "presence" }] }, [true, false, false]],
    ["namespaces presence", { namespaces: [{ kind: "presence" }] }, [false, true, true]],
    ['plaintext has namespace ""', { namespaces: [{ kind: "exact", value: "" }] }, [true, false, false]],
    ["positive and negative in one family", {
      destinationPorts: [8080, 9090],
      notDestinationPorts: [9090],
    }, [true, true, false]],
    ["families AND-ed", { destinationPorts: [8080], namespaces: exactNs }, [false, true, false]],
  ];
  for (const [name, fields, [p, t, a]] of cases) {
    const rules: Rule[] = [[[match(fields)]]];
    assert.deepEqual(
      [matches(rules, plaintext), matches(rules, tls), matches(rules, tlsAlt)],
      [p, t, a],
      name,
    );
  }
});

Deno.test("principals are compared without spiffe://; written with it they never match", () => {
  const sleep = conn("10.0.0.1", id("ambient-demo", "sleep"), "10.0.0.2", 80);
  const cases: [string, boolean][] = [
    ["cluster.local/ns/ambient-demo/sa/sleep", true],
    ["spiffe://cluster.local/ns/ambient-demo/sa/sleep", false],
    ["cluster.local/ns/ambient-demo/sa/notsleep", false],
  ];
  for (const [value, want] of cases) {
    assert.equal(matches([[[match({ principals: [{ kind: "exact", value }] })]]], sleep), want, value);
  }
  assert.equal(
    matches(
      [[[match({ principals: [{ kind: "prefix", value: "cluster.local/ns/ambient-demo/" }] })]]],
      sleep,
    ),
    true,
  );
  assert.equal(matches([[[match({ principals: [{ kind: "suffix", value: "/sa/sleep" }] })]]], sleep), true);
});

Deno.test("service accounts ignore the trust domain and need an identity", () => {
  const rules: Rule[] = [[[match({ serviceAccounts: [{ namespace: "a", serviceAccount: "b" }] })]]];
  assert.equal(matches(rules, conn("1.1.1.1", id("a", "b", "other.domain"), "2.2.2.2", 1)), true);
  assert.equal(matches(rules, conn("1.1.1.1", id("a", "c"), "2.2.2.2", 1)), false);
  assert.equal(matches(rules, conn("1.1.1.1", id("x", "b"), "2.2.2.2", 1)), false);
  assert.equal(matches(rules, conn("1.1.1.1", undefined, "2.2.2.2", 1)), false);
});

Deno.test("IPv6 and v4-mapped connection addresses", () => {
  const v6 = [[[match({ sourceIps: [parseCidr("2001:db8::/32")] })]]];
  const v4 = [[[match({ sourceIps: [parseCidr("10.0.0.0/8")] })]]];
  const cases: [string, boolean, boolean][] = [
    ["2001:db8::5", true, false],
    ["2001:0DB8:0::5", true, false],
    ["2001:db9::5", false, false],
    ["10.1.1.1", false, true],
    ["::ffff:10.1.1.1", false, true],
    ["garbage", false, false],
  ];
  for (const [src, want6, want4] of cases) {
    const c = conn(src, undefined, "10.9.9.9", 80);
    assert.equal(matches(v6, c), want6, `v6 ${src}`);
    assert.equal(matches(v4, c), want4, `v4 ${src}`);
  }
  const notV4 = [[[match({ notSourceIps: [parseCidr("10.0.0.0/8")] })]]];
  assert.equal(matches(notV4, conn("garbage", undefined, "10.9.9.9", 80)), true);
});
