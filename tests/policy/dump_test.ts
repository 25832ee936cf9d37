import assert from "node:assert/strict";
import YAML from "yaml";
import { ZtError } from "../../lib/error.ts";
import { parsePolicy, policyToDump } from "../../lib/policy/dump.ts";
import type { Authorization } from "../../lib/policy/model.ts";
import { match, policy } from "./fixtures.ts";

const full: Authorization = policy("p", {
  namespace: "default",
  scope: "WorkloadSelector",
  action: "Deny",
  dryRun: true,
  rules: [
    [
      [
        match({
          namespaces: [{ kind: "exact", value: "a" }],
          notNamespaces: [{ kind: "prefix", value: "kube-" }],
          serviceAccounts: [{ namespace: "a", serviceAccount: "b" }],
          notServiceAccounts: [{ namespace: "c", serviceAccount: "d" }],
          principals: [{ kind: "suffix", value: "/sa/sleep" }],
          notPrincipals: [{ kind: "presence" }],
          sourceIps: [{ ip: "10.0.0.0", prefixLen: 8 }],
          notSourceIps: [{ ip: "10.1.2.3", prefixLen: 32 }],
          destinationIps: [{ ip: "2001:db8::", prefixLen: 32 }],
          notDestinationIps: [{ ip: "::ffff:10.0.0.0", prefixLen: 104 }],
          destinationPorts: [80, 443],
          notDestinationPorts: [8080],
        }),
        match({}),
      ],
      [],
    ],
    [],
  ],
});

Deno.test("policyToDump: ztunnel's config_dump JSON, field order and empty lists omitted", () => {
  const json = JSON.stringify(policyToDump(full));
  assert.equal(
    json,
    '{"name":"p","namespace":"default","scope":"WorkloadSelector","action":"Deny","rules":[[[' +
      '{"namespaces":[{"Exact":"a"}],"notNamespaces":[{"Prefix":"kube-"}],' +
      '"serviceAccounts":[{"namespace":"a","serviceAccount":"b"}],' +
      '"notServiceAccounts":[{"namespace":"c","serviceAccount":"d"}],' +
      '"principals":[{"Suffix":"/sa/sleep"}],"notPrincipals":[{"Presence":[]}],' +
      '"sourceIps":["10.0.0.0/8"],"notSourceIps":["10.1.2.3/32"],' +
      '"destinationIps":["2001:db8::/32"],"notDestinationIps":["::ffff:10.0.0.0/104"],' +
      '"destinationPorts":[80,443],"notDestinationPorts":[8080]},{}],[]],[]],"dryRun":true}',
  );
  assert.deepEqual(policyToDump(policy("empty")), {
    name: "empty",
    namespace: "ns",
    scope: "Namespace",
    action: "Allow",
    rules: [],
    dryRun: false,
  });
});

Deno.test("parsePolicy is the inverse of policyToDump", () => {
  const roundTrip = parsePolicy(JSON.parse(JSON.stringify(policyToDump(full))), "policies[0]");
  assert.deepEqual(roundTrip, full);
});

Deno.test("parsePolicy reads the facts file's local config example and lenient forms", () => {
  const doc = YAML.parse(`
policies:
- name: only-default-ns
  namespace: default
  scope: Namespace
  action: Allow
  rules:
  - - - namespaces: [{Exact: default}]
        principals: [{Presence: []}, {Presence: null}, {Presence: {}}]
        sourceIps: ["10.0.0.1", "10.0.0.0/8"]
        destinationPorts: [80, "8080"]
`);
  assert.deepEqual(parsePolicy(doc.policies[0], "policies[0]"), {
    name: "only-default-ns",
    namespace: "default",
    scope: "Namespace",
    action: "Allow",
    dryRun: false,
    rules: [[[match({
      namespaces: [{ kind: "exact", value: "default" }],
      principals: [{ kind: "presence" }, { kind: "presence" }, { kind: "presence" }],
      sourceIps: [{ ip: "10.0.0.1", prefixLen: 32 }, { ip: "10.0.0.0", prefixLen: 8 }],
      destinationPorts: [80, 8080],
    })]]],
  });
});

Deno.test("parsePolicy errors name the field path", () => {
  const base = { name: "p", namespace: "ns", scope: "Namespace", action: "Allow", rules: [] as unknown[] };
  const cases: [string, unknown, string][] = [
    [
      "bad CIDR deep inside",
      { ...base, rules: [[[{}, { sourceIps: ["10.0.0.300/8"] }]]] },
      'policies[2].rules[0][0][1].sourceIps[0]: invalid CIDR "10.0.0.300/8"',
    ],
    ["not a mapping", "nope", 'policies[2]: expected a mapping, found string "nope"'],
    ["unknown top-level field", { ...base, selector: {} }, 'policies[2]: unknown field "selector"'],
    [
      "unknown match field",
      { ...base, rules: [[[{ principal: [] }]]] },
      'policies[2].rules[0][0][0]: unknown field "principal"',
    ],
    [
      "missing name",
      { ...base, name: undefined },
      "policies[2].name: expected a string, found nothing (the field is missing)",
    ],
    ["missing rules", { ...base, rules: undefined }, "policies[2].rules: missing field"],
    ["bad scope", { ...base, scope: "NAMESPACE" }, 'policies[2].scope: unknown scope "NAMESPACE"'],
    ["bad action", { ...base, action: "AUDIT" }, 'policies[2].action: unknown action "AUDIT"'],
    ["bad dryRun", { ...base, dryRun: "yes" }, "policies[2].dryRun: expected true or false"],
    [
      "rules not nested",
      { ...base, rules: [{ namespaces: [] }] },
      "policies[2].rules[0]: expected a list, found a mapping",
    ],
    [
      "bad port",
      { ...base, rules: [[[{ destinationPorts: [70000] }]]] },
      "policies[2].rules[0][0][0].destinationPorts[0]: invalid port 70000",
    ],
    [
      "bad string match",
      { ...base, rules: [[[{ namespaces: [{ Regex: "x" }] }]]] },
      'policies[2].rules[0][0][0].namespaces[0]: unknown string match "Regex"',
    ],
    [
      "two string matches",
      { ...base, rules: [[[{ namespaces: [{ Exact: "x", Prefix: "y" }] }]]] },
      "policies[2].rules[0][0][0].namespaces[0]: expected exactly one of",
    ],
    [
      "bad presence",
      { ...base, rules: [[[{ principals: [{ Presence: [1] }] }]]] },
      "policies[2].rules[0][0][0].principals[0].Presence: expected []",
    ],
    [
      "bad service account",
      { ...base, rules: [[[{ serviceAccounts: [{ namespace: "a", sa: "b" }] }]]] },
      'policies[2].rules[0][0][0].serviceAccounts[0]: unknown field "sa"',
    ],
  ];
  for (const [name, raw, prefix] of cases) {
    assert.throws(() => parsePolicy(raw, "policies[2]"), (e: unknown) => {
      assert.ok(e instanceof ZtError, name);
      assert.equal(e.kind, "config", name);
      assert.ok(e.message.startsWith(prefix), `${name}: ${e.message}`);
      return true;
    });
  }
});
