import assert from "node:assert/strict";
import { type BindableWorkload, bindPolicies } from "../../lib/policy/bind_policies.ts";
import { convertIstioDocuments } from "../../lib/policy/convert_istio.ts";
import { evaluate, PolicyIndex } from "../../lib/policy/evaluate.ts";
import type { Decision, RbacConnection } from "../../lib/policy/model.ts";
import { conn, id, yamlDocs } from "./fixtures.ts";

const ROOT = "istio-system";

/** Converts `yaml`, binds it to `workloads`, and decides `c` to the workload `uid`. */
function setup(yaml: string, workloads: BindableWorkload[]) {
  const conv = convertIstioDocuments(yamlDocs(yaml), { rootNamespace: ROOT });
  assert.deepEqual(conv.errors, []);
  const bound = bindPolicies(conv, workloads, ROOT);
  const index = new PolicyIndex(bound.policies);
  const decide = (uid: string, c: RbacConnection): Decision => {
    const wl = workloads.find((w) => w.uid === uid)!;
    return evaluate(index, { namespace: wl.namespace, authorizationPolicies: bound.bindings.get(uid)! }, c);
  };
  return { conv, bound, decide };
}

const demo: BindableWorkload[] = [
  { uid: "httpbin", namespace: "ambient-demo", labels: { app: "httpbin", version: "v1" } },
  { uid: "sleep", namespace: "ambient-demo", labels: { app: "sleep" } },
  { uid: "other-httpbin", namespace: "other", labels: { app: "httpbin" } },
];
const fromSleep = conn("10.0.0.5", id("ambient-demo", "sleep"), "10.0.0.9", 80);
const fromNotSleep = conn("10.0.0.6", id("ambient-demo", "notsleep"), "10.0.0.9", 80);

const guidePolicy = (extraTo = "") => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: httpbin-viewer
  namespace: ambient-demo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/ambient-demo/sa/sleep
${extraTo}`;

Deno.test("the ambient guide: L4 ALLOW for sleep, then adding an HTTP method denies both", () => {
  const l4 = setup(guidePolicy(), demo);
  assert.deepEqual(Object.fromEntries(l4.bound.bindings), {
    "httpbin": ["ambient-demo/httpbin-viewer"],
    "sleep": [],
    "other-httpbin": [], // a selector binds only in its own namespace
  });
  assert.deepEqual(l4.decide("httpbin", fromSleep), {
    allowed: true,
    reason: "allowed by ambient-demo/httpbin-viewer",
    policy: "ambient-demo/httpbin-viewer",
    dryRunMatches: [],
  });
  assert.equal(l4.decide("httpbin", fromNotSleep).reason, "allow policies exist, but none allowed");
  assert.equal(l4.decide("sleep", fromNotSleep).reason, "no allow policies, allow");

  const l7 = setup(guidePolicy('    to:\n    - operation:\n        methods: ["GET"]\n'), demo);
  assert.equal(l7.conv.warnings.length, 1);
  assert.ok(l7.conv.warnings[0].includes("(found: methods)"));
  for (const c of [fromSleep, fromNotSleep]) {
    assert.equal(l7.decide("httpbin", c).reason, "allow policies exist, but none allowed");
  }
});

Deno.test("selectors: subset match, root-namespace selectors bind mesh-wide, empty selectors bind nothing", () => {
  const { bound } = setup(
    `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: z-two-labels, namespace: ambient-demo}
spec: {selector: {matchLabels: {app: httpbin, version: v1}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a-v2, namespace: ambient-demo}
spec: {selector: {matchLabels: {app: httpbin, version: v2}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-httpbin, namespace: istio-system}
spec: {selector: {matchLabels: {app: httpbin}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-labels, namespace: ambient-demo}
spec: {selector: {}}
`,
    demo,
  );
  assert.deepEqual(Object.fromEntries(bound.bindings), {
    "httpbin": ["ambient-demo/z-two-labels", "istio-system/mesh-httpbin"],
    "sleep": [],
    "other-httpbin": ["istio-system/mesh-httpbin"],
  });
});

const pa = (name: string, namespace: string, spec: string, extraMeta = "") =>
  `---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: ${name}
  namespace: ${namespace}
${extraMeta}spec:
${spec.trim().split("\n").map((l) => `  ${l}`).join("\n")}
`;

const STATIC = "istio-system/istio_converted_static_strict";
const wls: BindableWorkload[] = [
  { uid: "a1", namespace: "a", labels: { app: "one" } },
  { uid: "a2", namespace: "a", labels: { app: "two" } },
  { uid: "b1", namespace: "b", labels: { app: "one" } },
];

Deno.test("PeerAuthentication levels: mesh → namespace → workload, UNSET inherits", () => {
  const cases: [string, string, Record<string, string[]>][] = [
    ["mesh STRICT", pa("m", ROOT, "mtls: {mode: STRICT}"), { a1: [STATIC], a2: [STATIC], b1: [STATIC] }],
    ["mesh PERMISSIVE", pa("m", ROOT, "mtls: {mode: PERMISSIVE}"), { a1: [], a2: [], b1: [] }],
    [
      "mesh STRICT, namespace PERMISSIVE",
      pa("m", ROOT, "mtls: {mode: STRICT}") + pa("n", "a", "mtls: {mode: PERMISSIVE}"),
      { a1: [], a2: [], b1: [STATIC] },
    ],
    [
      "mesh STRICT, namespace UNSET inherits",
      pa("m", ROOT, "mtls: {mode: STRICT}") + pa("n", "a", "mtls: {}"),
      { a1: [STATIC], a2: [STATIC], b1: [STATIC] },
    ],
    [
      "namespace STRICT, workload DISABLE",
      pa("n", "a", "mtls: {mode: STRICT}") +
      pa("w", "a", "selector: {matchLabels: {app: one}}\nmtls: {mode: DISABLE}"),
      { a1: [], a2: [STATIC], b1: [] },
    ],
    [
      "mesh PERMISSIVE, workload STRICT",
      pa("m", ROOT, "mtls: {mode: PERMISSIVE}") +
      pa("w", "b", "selector: {matchLabels: {app: one}}\nmtls: {mode: STRICT}"),
      { a1: [], a2: [], b1: [STATIC] },
    ],
    [
      "workload UNSET inherits the namespace",
      pa("n", "a", "mtls: {mode: STRICT}") + pa("w", "a", "selector: {matchLabels: {app: one}}"),
      { a1: [STATIC], a2: [STATIC], b1: [] },
    ],
    [
      "a root-namespace PeerAuthentication with a selector is not mesh-wide",
      pa("r", ROOT, "selector: {matchLabels: {app: one}}\nmtls: {mode: STRICT}"),
      { a1: [], a2: [], b1: [] },
    ],
    [
      "the oldest namespace policy wins",
      pa("new", "a", "mtls: {mode: STRICT}", "  creationTimestamp: '2024-05-01T00:00:00Z'\n") +
      pa("old", "a", "mtls: {mode: PERMISSIVE}", "  creationTimestamp: '2024-01-01T00:00:00Z'\n"),
      { a1: [], a2: [], b1: [] },
    ],
    [
      "without timestamps, document order decides",
      pa("first", "a", "mtls: {mode: STRICT}") + pa("second", "a", "mtls: {mode: PERMISSIVE}"),
      { a1: [STATIC], a2: [STATIC], b1: [] },
    ],
  ];
  for (const [name, yaml, want] of cases) {
    const { bound, decide } = setup(yaml, wls);
    assert.deepEqual(Object.fromEntries(bound.bindings), want, name);
    assert.ok(
      bound.policies.some((p) => `${p.namespace}/${p.name}` === STATIC),
      `${name}: static policy sent`,
    );
    for (const [uid, keys] of Object.entries(want)) {
      const plain = decide(uid, conn("10.1.1.1", undefined, "10.0.0.1", 80));
      const mtls = decide(uid, conn("10.1.1.1", id("x", "y"), "10.0.0.1", 80));
      assert.equal(mtls.allowed, true, `${name} ${uid} mTLS`);
      assert.deepEqual(
        plain,
        keys.length
          ? {
            allowed: false,
            reason: `explicitly denied by: ${STATIC}`,
            policy: STATIC,
            dryRunMatches: [],
          }
          : { allowed: true, reason: "no allow policies, allow", dryRunMatches: [] },
        `${name} ${uid} plaintext`,
      );
    }
  }
});

Deno.test("no PeerAuthentication at all: nothing added", () => {
  const { bound } = setup("", wls);
  assert.deepEqual(bound.policies, []);
  assert.deepEqual(Object.fromEntries(bound.bindings), { a1: [], a2: [], b1: [] });
});

Deno.test("portLevelMtls: a converted DENY replaces the static one on that workload", () => {
  const sel = "selector: {matchLabels: {app: one}}\n";
  const KEY = "a/converted_peer_authentication_w";
  // [name, yaml, a1's keys, ports where plaintext is denied (of 8080, 9090)]
  const cases: [string, string, string[], number[]][] = [
    [
      "STRICT with 8080 PERMISSIVE",
      pa("w", "a", `${sel}mtls: {mode: STRICT}\nportLevelMtls: {8080: {mode: PERMISSIVE}}`),
      [KEY],
      [9090],
    ],
    [
      "STRICT with 8080 DISABLE",
      pa("w", "a", `${sel}mtls: {mode: STRICT}\nportLevelMtls: {8080: {mode: DISABLE}}`),
      [KEY],
      [9090],
    ],
    [
      "PERMISSIVE with 8080 STRICT",
      pa("w", "a", `${sel}mtls: {mode: PERMISSIVE}\nportLevelMtls: {8080: {mode: STRICT}}`),
      [KEY],
      [8080],
    ],
    [
      "UNSET under a STRICT namespace, 8080 PERMISSIVE (merged)",
      pa("n", "a", "mtls: {mode: STRICT}") + pa("w", "a", `${sel}portLevelMtls: {8080: {mode: PERMISSIVE}}`),
      [KEY],
      [9090],
    ],
    [
      "UNSET under a PERMISSIVE namespace, 8080 STRICT",
      pa("n", "a", "mtls: {mode: PERMISSIVE}") + pa("w", "a", `${sel}portLevelMtls: {8080: {mode: STRICT}}`),
      [KEY],
      [8080],
    ],
    [
      "UNSET under a STRICT mesh and UNSET namespace, 8080 DISABLE",
      pa("m", ROOT, "mtls: {mode: STRICT}") + pa("n", "a", "mtls: {}") +
      pa("w", "a", `${sel}portLevelMtls: {8080: {mode: DISABLE}}`),
      [KEY],
      [9090],
    ],
    [
      "STRICT with every port STRICT is plain STRICT",
      pa("w", "a", `${sel}mtls: {mode: STRICT}\nportLevelMtls: {8080: {mode: STRICT}}`),
      [STATIC],
      [8080, 9090],
    ],
    [
      "PERMISSIVE with every port PERMISSIVE",
      pa("w", "a", `${sel}mtls: {mode: PERMISSIVE}\nportLevelMtls: {8080: {mode: PERMISSIVE}}`),
      [],
      [],
    ],
  ];
  for (const [name, yaml, keys, deniedPorts] of cases) {
    const { bound, decide } = setup(yaml, wls);
    assert.deepEqual(bound.bindings.get("a1"), keys, name);
    // app=two is not selected by the workload PeerAuthentication: only namespace/mesh STRICT reaches it.
    const parentStrict = name.includes("STRICT namespace") || name.includes("STRICT mesh");
    assert.deepEqual(bound.bindings.get("a2"), parentStrict ? [STATIC] : [], `${name}: app=two`);
    for (const port of [8080, 9090]) {
      const plain = decide("a1", conn("10.1.1.1", undefined, "10.0.0.1", port));
      assert.equal(plain.allowed, !deniedPorts.includes(port), `${name}: plaintext to ${port}`);
      if (!plain.allowed) assert.equal(plain.reason, `explicitly denied by: ${keys[0]}`, name);
      assert.equal(
        decide("a1", conn("10.1.1.1", id("x", "y"), "10.0.0.1", port)).allowed,
        true,
        `${name}: mTLS`,
      );
    }
  }
});
