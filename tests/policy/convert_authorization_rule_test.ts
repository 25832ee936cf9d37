import assert from "node:assert/strict";
import { convertRule } from "../../lib/policy/convert_authorization_rule.ts";
import { convertIstioDocuments } from "../../lib/policy/convert_istio.ts";
import { ZtError } from "../../lib/error.ts";
import { match, yamlDocs } from "./fixtures.ts";

const ROOT = "istio-system";

function ap(spec: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: p
  namespace: ns
spec:
${spec.trim().split("\n").map((l) => `  ${l}`).join("\n")}
`;
}

function convert(yaml: string) {
  return convertIstioDocuments(yamlDocs(yaml), { rootNamespace: ROOT });
}

Deno.test("convertRule: clause order to, from, when; ALLOW drops a rule with HTTP attributes", () => {
  const raw = {
    from: [{ source: { namespaces: ["a"] } }],
    to: [{ operation: { ports: ["80"], methods: ["GET"] } }],
    when: [{ key: "destination.port", values: ["80"] }],
  };
  const deny = convertRule(raw, "spec.rules[0]", "Deny", "ns");
  assert.deepEqual(deny.clauses, [
    [match({ destinationPorts: [80] })],
    [match({ namespaces: [{ kind: "exact", value: "a" }] })],
    [match({ destinationPorts: [80] })],
  ]);
  assert.deepEqual(deny.l7, ["methods"]);
  const allow = convertRule(raw, "spec.rules[0]", "Allow", "ns");
  assert.equal(allow.clauses, null);
  assert.deepEqual(convertRule({}, "r", "Allow", "ns").clauses, []);
  assert.throws(
    () => convertRule(null, "spec.rules[3]", "Allow", "ns"),
    (e: unknown) => e instanceof ZtError && e.message === "spec.rules[3]: `rule` must not be nil",
  );
});

Deno.test("actions AUDIT and CUSTOM, bad values and Istio validation are rejected per document", () => {
  const cases: [string, string][] = [
    ["action: AUDIT\nrules: [{}]", "AuthorizationPolicy ns/p: ztunnel does not support the AUDIT action"],
    [
      "action: CUSTOM\nprovider: {name: ext}\nrules: [{}]",
      "AuthorizationPolicy ns/p: ztunnel does not support the CUSTOM action",
    ],
    ["action: MAYBE", 'AuthorizationPolicy ns/p: spec.action: unknown action "MAYBE"'],
    [
      "rules: [{from: [{source: {ipBlocks: [10.0.0.300/8]}}]}]",
      'AuthorizationPolicy ns/p: spec.rules[0].from[0].source.ipBlocks[0]: invalid CIDR "10.0.0.300/8"',
    ],
    [
      "rules: [{to: [{operation: {ports: ['99999']}}]}]",
      'AuthorizationPolicy ns/p: spec.rules[0].to[0].operation.ports[0]: invalid port "99999"',
    ],
    [
      "rules: [{to: [{operation: {notPorts: [http]}}]}]",
      'AuthorizationPolicy ns/p: spec.rules[0].to[0].operation.notPorts[0]: invalid port "http"',
    ],
    [
      "rules: [{when: [{key: destination.port, values: ['-1']}]}]",
      'AuthorizationPolicy ns/p: spec.rules[0].when[0].values[0]: invalid port "-1"',
    ],
    [
      "rules: [{when: [{key: source.ip, values: [nope]}]}]",
      'AuthorizationPolicy ns/p: spec.rules[0].when[0].values[0]: invalid CIDR "nope"',
    ],
    ["rules: [{from: []}]", "AuthorizationPolicy ns/p: spec.rules[0].from: `from` must not be empty"],
    [
      "rules: [{from: [{source: {}}]}]",
      "AuthorizationPolicy ns/p: spec.rules[0].from[0].source: `from.source` must not be empty",
    ],
    [
      "rules: [{from: [{}]}]",
      "AuthorizationPolicy ns/p: spec.rules[0].from[0].source: `from.source` must not be nil",
    ],
    [
      "rules: [{to: [{operation: {}}]}]",
      "AuthorizationPolicy ns/p: spec.rules[0].to[0].operation: `to.operation` must not be empty",
    ],
    [
      "rules: [{from: [{source: {principals: ['']}}]}]",
      "AuthorizationPolicy ns/p: spec.rules[0].from[0].source.principals[0]: empty value not allowed",
    ],
    [
      "rules: [{from: [{source: {principals: [a], serviceAccounts: [b]}}]}]",
      "AuthorizationPolicy ns/p: spec.rules[0].from[0].source: cannot set serviceAccounts with namespaces or principals",
    ],
    [
      "rules: [{when: [{key: source.ip}]}]",
      "AuthorizationPolicy ns/p: spec.rules[0].when[0]: at least one of `values` or `notValues` must be set for key source.ip",
    ],
    [
      "rules: [{when: [{key: bogus.key, values: [x]}]}]",
      "AuthorizationPolicy ns/p: spec.rules[0].when[0].key: unknown attribute: bogus.key",
    ],
    [
      "rules: [{from: [{source: {principal: [x]}}]}]",
      'AuthorizationPolicy ns/p: spec.rules[0].from[0].source: unknown field "principal"',
    ],
    [
      "selector: {matchLabels: {app: '*'}}",
      'AuthorizationPolicy ns/p: spec.selector.matchLabels: wildcard is not supported in selector: "app=*"',
    ],
    [
      "selector: {matchLabels: {app: a}}\ntargetRefs: [{kind: Service, group: '', name: s}]",
      "AuthorizationPolicy ns/p: spec: only one of targetRefs or workloadSelector can be set",
    ],
    [
      "provider: {name: x}",
      "AuthorizationPolicy ns/p: spec.provider: `provider` must not be with non CUSTOM action",
    ],
    ["rules: {}", "AuthorizationPolicy ns/p: spec.rules: expected a list, found a mapping"],
  ];
  for (const [spec, error] of cases) {
    const conv = convert(ap(spec) + "---\n" + ap("rules: [{}]").replace("name: p", "name: fine"));
    assert.equal(conv.errors.length, 1, spec);
    assert.ok(conv.errors[0].startsWith(error), `${spec}\n  got: ${conv.errors[0]}\n want: ${error}`);
    assert.deepEqual(conv.policies.map((p) => p.name), ["fine"], "the other documents still apply");
  }
});
