/** ztunnel's serde_yaml string-match tags in the local config (lib/state/yaml_tags.ts). */
import { deepEqual, throws } from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import { parseLocalConfig } from "../../lib/state/local_config.ts";

const policy = (matches: string) =>
  `policies:
- name: p
  namespace: ops
  scope: Namespace
  action: Allow
  dryRun: false
  rules:
  - - - ${matches}
`;

Deno.test("yaml tags: !Exact / !Prefix / !Suffix / !Presence read as config_dump's one-key maps", () => {
  const tagged = parseLocalConfig(policy(
    'principals: [!Exact cluster.local/ns/a/sa/b, !Prefix "cluster.local/ns/", !Suffix /sa/c]\n' +
      "        namespaces: [!Presence [], !Presence]",
  ));
  const mapped = parseLocalConfig(policy(
    "principals: [{Exact: cluster.local/ns/a/sa/b}, {Prefix: cluster.local/ns/}, {Suffix: /sa/c}]\n" +
      "        namespaces: [{Presence: []}, {Presence: []}]",
  ));
  deepEqual(tagged.policies, mapped.policies);
  deepEqual(tagged.policies[0].rules[0][0][0].principals, [
    { kind: "exact", value: "cluster.local/ns/a/sa/b" },
    { kind: "prefix", value: "cluster.local/ns/" },
    { kind: "suffix", value: "/sa/c" },
  ]);
});

Deno.test("yaml tags: a number after !Exact is its text", () => {
  const cfg = parseLocalConfig(policy("namespaces: [!Exact 42]"));
  deepEqual(cfg.policies[0].rules[0][0][0].namespaces, [{ kind: "exact", value: "42" }]);
});

Deno.test("yaml tags: unknown tags and misused ones are refused with their line", () => {
  const refuse = (m: string, re: RegExp) =>
    throws(() => parseLocalConfig(policy(m), "mesh.yaml"), (e) => e instanceof ZtError && re.test(e.message));
  refuse("principals: [!Glob x]", /^mesh\.yaml: line 8: unsupported YAML tag !Glob/);
  refuse("principals: [!Exact]", /line 8: !Exact needs a string value/);
  refuse("principals: [!Exact {a: 1}]", /!Exact needs a string value/);
  refuse("principals: [!Presence [x]]", /!Presence takes no value/);
  // Anywhere in the file, not only in policies: YAML would otherwise read `!Foo x` as "x".
  throws(
    () => parseLocalConfig(`workloads:\n- {name: a, namespace: !Foo ops, workloadIps: []}\n`),
    /line 2: unsupported YAML tag !Foo/,
  );
});

Deno.test("yaml tags: YAML's own tags still work", () => {
  const cfg = parseLocalConfig(policy("namespaces: [!Exact x]\n        destinationPorts: [!!int 80]"));
  deepEqual(cfg.policies[0].rules[0][0][0].destinationPorts, [80]);
});
