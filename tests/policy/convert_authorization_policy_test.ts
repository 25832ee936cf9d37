import assert from "node:assert/strict";
import { convertIstioDocuments, type IstioConversion } from "../../lib/policy/convert_istio.ts";
import { evaluate, PolicyIndex } from "../../lib/policy/evaluate.ts";
import type { Authorization, Rule } from "../../lib/policy/model.ts";
import { conn, id, match, yamlDocs } from "./fixtures.ts";

const ROOT = "istio-system";

function convert(yaml: string, enableDryRun?: boolean): IstioConversion {
  return convertIstioDocuments(yamlDocs(yaml), { rootNamespace: ROOT, enableDryRun });
}

/** One AuthorizationPolicy in namespace `ns` named `p`, spec given as YAML lines. */
function ap(spec: string, extra = ""): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: p
  namespace: ns
${extra}spec:
${spec.trim().split("\n").map((l) => `  ${l}`).join("\n")}
`;
}

function only(conv: IstioConversion): Authorization {
  assert.deepEqual(conv.errors, []);
  assert.equal(conv.policies.length, 1);
  return conv.policies[0];
}

const principal = (value: string) => ({ kind: "exact" as const, value });

Deno.test("scope: root namespace without selector → Global, elsewhere Namespace, selector → WorkloadSelector", () => {
  const conv = convert(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh, namespace: istio-system}
spec: {}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: ns-wide}
spec: {action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: sel, namespace: app}
spec: {selector: {matchLabels: {app: httpbin}}, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: root-sel, namespace: istio-system}
spec: {selector: {matchLabels: {app: x}}}
`);
  assert.deepEqual(conv.errors, []);
  assert.deepEqual(conv.policies, [
    { name: "mesh", namespace: "istio-system", scope: "Global", action: "Allow", rules: [], dryRun: false },
    { name: "ns-wide", namespace: "default", scope: "Namespace", action: "Deny", rules: [[]], dryRun: false },
    { name: "sel", namespace: "app", scope: "WorkloadSelector", action: "Allow", rules: [[]], dryRun: false },
    {
      name: "root-sel",
      namespace: "istio-system",
      scope: "WorkloadSelector",
      action: "Allow",
      rules: [],
      dryRun: false,
    },
  ]);
  assert.deepEqual(conv.selectors, [
    { key: "app/sel", namespace: "app", matchLabels: { app: "httpbin" } },
    { key: "istio-system/root-sel", namespace: "istio-system", matchLabels: { app: "x" } },
  ]);
});

Deno.test("rules: {} matches all in ALLOW; absent rules deny all; absent rules in DENY never match (warned)", () => {
  const cases: [string, Rule[], string[]][] = [
    ["action: ALLOW\nrules: [{}]", [[]], []],
    ["action: ALLOW", [], []],
    ["{}", [], []],
    ["action: DENY", [], ["AuthorizationPolicy ns/p: DENY action without `rules` is meaningless"]],
  ];
  for (const [spec, rules, warnings] of cases) {
    const conv = convert(ap(spec));
    assert.deepEqual(only(conv).rules, rules, spec);
    assert.equal(conv.warnings.length, warnings.length, spec);
    warnings.forEach((w, i) => assert.ok(conv.warnings[i].startsWith(w), conv.warnings[i]));
  }
});

Deno.test("from/to/when convert to to-clause, from-clause, one clause per when", () => {
  const p = only(convert(ap(`
rules:
- from:
  - source:
      principals: ["cluster.local/ns/a/sa/b", "*"]
      notPrincipals: ["*/sa/evil"]
      namespaces: ["team-*"]
      notNamespaces: ["kube-system"]
      ipBlocks: ["10.0.0.0/8", "2001:db8::1"]
      notIpBlocks: ["10.1.0.0/16"]
  - source:
      serviceAccounts: ["other/sa1", "sa2"]
      notServiceAccounts: ["bad"]
  to:
  - operation: {ports: ["80", 8080], notPorts: ["9090"]}
  when:
  - {key: source.ip, values: ["192.168.0.0/16"], notValues: ["192.168.1.1"]}
  - {key: source.namespace, values: ["x"], notValues: ["y*"]}
  - {key: source.principal, values: ["*"]}
  - {key: destination.ip, values: ["10.9.0.0/16"]}
  - {key: destination.port, notValues: ["22"]}
`)));
  const want: Rule = [
    [match({ destinationPorts: [80, 8080], notDestinationPorts: [9090] })],
    [
      match({
        principals: [principal("cluster.local/ns/a/sa/b"), { kind: "presence" }],
        notPrincipals: [{ kind: "suffix", value: "/sa/evil" }],
        namespaces: [{ kind: "prefix", value: "team-" }],
        notNamespaces: [principal("kube-system")],
        sourceIps: [{ ip: "10.0.0.0", prefixLen: 8 }, { ip: "2001:db8::1", prefixLen: 128 }],
        notSourceIps: [{ ip: "10.1.0.0", prefixLen: 16 }],
      }),
      match({
        serviceAccounts: [{ namespace: "other", serviceAccount: "sa1" }, {
          namespace: "ns",
          serviceAccount: "sa2",
        }],
        notServiceAccounts: [{ namespace: "ns", serviceAccount: "bad" }],
      }),
    ],
    [match({
      sourceIps: [{ ip: "192.168.0.0", prefixLen: 16 }],
      notSourceIps: [{ ip: "192.168.1.1", prefixLen: 32 }],
    })],
    [match({ namespaces: [principal("x")], notNamespaces: [{ kind: "prefix", value: "y" }] })],
    [match({ principals: [{ kind: "presence" }] })],
    [match({ destinationIps: [{ ip: "10.9.0.0", prefixLen: 16 }] })],
    [match({ notDestinationPorts: [22] })],
  ];
  assert.deepEqual(p.rules, [want]);
});

Deno.test("HTTP attributes: ALLOW drops the rule, DENY keeps the L4 rest; warnings name policy and fields", () => {
  const allow = convert(ap(`
rules:
- to: [{operation: {methods: ["GET"], paths: ["/x"]}}]
- from: [{source: {principals: ["cluster.local/ns/a/sa/b"]}}]
- from: [{source: {requestPrincipals: ["*"]}}]
  when: [{key: "request.headers[x-user]", values: ["bob"]}]
`));
  assert.deepEqual(only(allow).rules, [[[match({ principals: [principal("cluster.local/ns/a/sa/b")] })]]]);
  assert.deepEqual(allow.warnings, [
    "AuthorizationPolicy ns/p: ztunnel does not support HTTP attributes (found: methods, paths, request.headers[x-user], requestPrincipals). In ambient mode you must use a waypoint proxy to enforce HTTP rules. Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.",
  ]);

  const mixed = convert(ap(`
action: DENY
rules:
- to: [{operation: {ports: ["80"], methods: ["GET"]}}]
`));
  assert.deepEqual(only(mixed).rules, [[[match({ destinationPorts: [80] })]]]);
  assert.ok(
    mixed.warnings[0].endsWith(
      "DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.",
    ),
  );

  for (
    const spec of [
      "action: DENY\nrules: [{to: [{operation: {methods: [GET]}}]}]",
      "action: DENY\nrules: [{from: [{source: {remoteIpBlocks: [1.2.3.4]}}]}]",
      "action: DENY\nrules: [{from: [{source: {principals: ['*']}}], to: [{operation: {hosts: [a.com]}}]}]",
      "action: DENY\nrules: [{when: [{key: 'request.auth.claims[iss]', values: [x]}]}]",
    ]
  ) {
    const conv = convert(ap(spec));
    const p = only(conv);
    assert.ok(
      conv.warnings[0].includes(
        "this DENY policy has no enforceable rules at ztunnel and will have no effect",
      ),
      spec,
    );
    const index = new PolicyIndex([p]);
    for (
      const c of [conn("1.2.3.4", undefined, "10.0.0.1", 80), conn("1.2.3.4", id("a", "b"), "10.0.0.1", 80)]
    ) {
      assert.equal(evaluate(index, { namespace: "ns", authorizationPolicies: [] }, c).allowed, true, spec);
    }
  }
});

Deno.test("targetRef(s) policies are for waypoints: not applied, warned", () => {
  for (
    const spec of [
      "targetRef: {kind: Service, group: '', name: s}",
      "targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: w}]",
    ]
  ) {
    const conv = convert(ap(`${spec}\nrules: [{to: [{operation: {methods: [GET]}}]}]`));
    assert.deepEqual(conv.errors, []);
    assert.deepEqual(conv.policies, []);
    assert.deepEqual(conv.warnings, [
      "AuthorizationPolicy ns/p: targetRef(s) policies are enforced by waypoints, not by ztunnel: not applied",
    ]);
  }
});

Deno.test("dry-run annotation: dry-run policy; disabled like istiod's default; bad values enforce", () => {
  const dry = (value: string) => `metadata:\n  annotations:\n    istio.io/dry-run: "${value}"\n`;
  const withAnnotation = (value: string) => ap("rules: [{}]").replace("metadata:\n", dry(value));
  assert.equal(only(convert(withAnnotation("true"))).dryRun, true);
  assert.equal(only(convert(withAnnotation("T"))).dryRun, true);
  assert.equal(only(convert(withAnnotation("false"))).dryRun, false);
  const bad = convert(withAnnotation("yes"));
  assert.equal(only(bad).dryRun, false);
  assert.ok(bad.warnings[0].includes("unable to parse the istio.io/dry-run annotation"));
  const disabled = convert(withAnnotation("true"), false);
  assert.deepEqual(disabled.policies, []);
  assert.ok(disabled.warnings[0].includes("support for ambient dry-run authorizationPolicies isn't enabled"));
});

Deno.test("principals written with spiffe:// convert as written (never matching) and are warned about", () => {
  const conv = convert(ap("rules: [{from: [{source: {principals: ['spiffe://cluster.local/ns/a/sa/b']}}]}]"));
  assert.deepEqual(only(conv).rules, [[[
    match({ principals: [principal("spiffe://cluster.local/ns/a/sa/b")] }),
  ]]]);
  assert.ok(conv.warnings[0].includes("written without spiffe://"));
});
