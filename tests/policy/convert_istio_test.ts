import assert from "node:assert/strict";
import { convertIstioDocuments } from "../../lib/policy/convert_istio.ts";
import { yamlDocs } from "./fixtures.ts";

const opts = { rootNamespace: "istio-system" };

Deno.test("documents: v1 and v1beta1 accepted, namespace defaults, other versions and kinds rejected", () => {
  const conv = convertIstioDocuments(
    yamlDocs(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: v1}
spec: {}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: v1beta1, namespace: x}
spec: {}
---
apiVersion: security.istio.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: old, namespace: x}
---
apiVersion: security.istio.io/v1
kind: Sidecar
metadata: {name: s, namespace: x}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: x}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {namespace: x}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: extra, namespace: x}
data: {}
---
- not an object
`),
    opts,
  );
  assert.deepEqual(conv.policies.map((p) => `${p.namespace}/${p.name}`), ["default/v1", "x/v1beta1"]);
  assert.deepEqual(conv.errors, [
    'AuthorizationPolicy x/old: unsupported apiVersion "security.istio.io/v1alpha1" (expected security.istio.io/v1 or security.istio.io/v1beta1)',
    "Sidecar x/s: unsupported kind (expected AuthorizationPolicy or PeerAuthentication)",
    "AuthorizationPolicy x/<unnamed> (document 5): missing metadata.name",
    'AuthorizationPolicy x/extra: unknown field "data"',
    "document 7: expected a Kubernetes object",
  ]);
  assert.deepEqual(conv.warnings, [
    "RequestAuthentication x/jwt: JWT authentication is enforced by waypoints, not by ztunnel: ignored",
  ]);
});

Deno.test("a later document with the same name replaces the earlier one, with a warning", () => {
  const conv = convertIstioDocuments(
    yamlDocs(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: x}
spec: {action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: q, namespace: x}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: x}
spec: {}
`),
    opts,
  );
  assert.deepEqual(conv.policies.map((p) => [p.name, p.action]), [["p", "Allow"], ["q", "Allow"]]);
  assert.deepEqual(conv.warnings, ["AuthorizationPolicy x/p: defined twice, the later one wins"]);
});

Deno.test("PeerAuthentications come out oldest first (timestamps, then document order)", () => {
  const pa = (name: string, ts?: string) =>
    `---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: a${
      ts ? `, creationTimestamp: "${ts}"` : ""
    }}\nspec: {mtls: {mode: STRICT}}\n`;
  const conv = convertIstioDocuments(
    yamlDocs(
      pa("late", "2024-06-01T00:00:00Z") + pa("early", "2024-01-01T00:00:00Z") + pa("none-1") + pa("none-2"),
    ),
    opts,
  );
  assert.deepEqual(conv.peerAuthentications.map((p) => p.name), ["none-1", "none-2", "early", "late"]);
});

Deno.test("the root namespace is configurable", () => {
  const conv = convertIstioDocuments(
    yamlDocs(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: mesh-root}
spec: {}
`),
    { rootNamespace: "mesh-root" },
  );
  assert.equal(conv.policies[0].scope, "Global");
  const other = convertIstioDocuments(
    yamlDocs(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: istio-system}
spec: {}
`),
    { rootNamespace: "mesh-root" },
  );
  assert.equal(other.policies[0].scope, "Namespace");
});
