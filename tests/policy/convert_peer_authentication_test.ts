import assert from "node:assert/strict";
import {
  convertPeerAuthentication,
  parsePeerAuthentication,
  peerAuthenticationKeys,
  staticStrictPolicy,
} from "../../lib/policy/convert_peer_authentication.ts";
import { convertIstioDocuments } from "../../lib/policy/convert_istio.ts";
import type { MtlsMode, PeerAuthn } from "../../lib/policy/istio_resources.ts";
import { match, yamlDocs } from "./fixtures.ts";

const ROOT = "istio-system";
const STATIC = "istio-system/istio_converted_static_strict";
const meta = { kind: "PeerAuthentication", name: "w", namespace: "a", annotations: {} };

function paOf(
  namespace: string,
  mode: MtlsMode,
  opts: { selector?: Record<string, string>; ports?: [number, MtlsMode][]; name?: string } = {},
): PeerAuthn {
  return {
    name: opts.name ?? "w",
    namespace,
    selector: opts.selector,
    mode,
    portLevelMtls: (opts.ports ?? []).map(([port, m]) => ({ port, mode: m })),
  };
}

Deno.test("parsePeerAuthentication reads modes, selectors and sorted ports", () => {
  const { pa, warnings } = parsePeerAuthentication(meta, {
    selector: { matchLabels: { app: "x" } },
    mtls: { mode: "STRICT" },
    portLevelMtls: { "9090": { mode: "DISABLE" }, "80": { mode: "PERMISSIVE" }, "81": {} },
  });
  assert.deepEqual(pa, {
    name: "w",
    namespace: "a",
    selector: { app: "x" },
    mode: "STRICT",
    portLevelMtls: [{ port: 80, mode: "PERMISSIVE" }, { port: 81, mode: "UNSET" }, {
      port: 9090,
      mode: "DISABLE",
    }],
  });
  assert.deepEqual(warnings, []);
  assert.equal(parsePeerAuthentication(meta, undefined).pa.mode, "UNSET");
  assert.equal(parsePeerAuthentication(meta, { mtls: null }).pa.selector, undefined);
});

Deno.test("invalid PeerAuthentications are rejected like Istio's webhook does", () => {
  const cases: [string, string][] = [
    ["mtls: {mode: STRICTER}", 'spec.mtls.mode: unknown mode "STRICTER"'],
    [
      "portLevelMtls: {8080: {mode: STRICT}}",
      "spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS",
    ],
    [
      "selector: {matchLabels: {app: x}}\nportLevelMtls: {}",
      "spec.portLevelMtls: port level mTLS, if defined, must have at least one element",
    ],
    [
      "selector: {matchLabels: {app: x}}\nportLevelMtls: {0: {mode: STRICT}}",
      "spec.portLevelMtls.0: port must be in range 1..65535",
    ],
    [
      "selector: {matchLabels: {app: x}}\nportLevelMtls: {http: {mode: STRICT}}",
      "spec.portLevelMtls.http: port must be in range 1..65535",
    ],
    ["mtls: {mode: STRICT, extra: 1}", 'spec.mtls: unknown field "extra"'],
    ["mutualTls: {}", 'spec: unknown field "mutualTls"'],
  ];
  for (const [spec, error] of cases) {
    const yaml =
      `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: a}\nspec:\n${
        spec.split("\n").map((l) => `  ${l}`).join("\n")
      }\n`;
    const conv = convertIstioDocuments(yamlDocs(yaml), { rootNamespace: ROOT });
    assert.deepEqual(conv.peerAuthentications, [], spec);
    assert.equal(conv.errors.length, 1, spec);
    assert.ok(conv.errors[0].startsWith(`PeerAuthentication a/p: ${error}`), `${spec}: ${conv.errors[0]}`);
  }
});

Deno.test("peerAuthenticationKeys: effective mode and port-level key per workload", () => {
  const sel = { app: "x" };
  const W = "a/converted_peer_authentication_w";
  const cases: [string, PeerAuthn[], string[]][] = [
    ["nothing", [], []],
    ["mesh STRICT", [paOf(ROOT, "STRICT")], [STATIC]],
    ["mesh STRICT with a selector {} counts as mesh", [paOf(ROOT, "STRICT", { selector: {} })], [STATIC]],
    ["namespace DISABLE over mesh STRICT", [paOf(ROOT, "STRICT"), paOf("a", "DISABLE")], []],
    ["first namespace policy wins", [
      paOf("a", "STRICT", { name: "n1" }),
      paOf("a", "PERMISSIVE", { name: "n2" }),
    ], [STATIC]],
    ["workload UNSET, no ports", [paOf("a", "STRICT"), paOf("a", "UNSET", { selector: sel })], [STATIC]],
    ["workload STRICT, port PERMISSIVE", [
      paOf("a", "STRICT", { selector: sel, ports: [[80, "PERMISSIVE"]] }),
    ], [W]],
    ["workload STRICT, all ports STRICT", [paOf("a", "STRICT", { selector: sel, ports: [[80, "STRICT"]] })], [
      STATIC,
    ]],
    ["workload PERMISSIVE, port STRICT", [
      paOf("a", "PERMISSIVE", { selector: sel, ports: [[80, "STRICT"]] }),
    ], [W]],
    ["workload DISABLE, port PERMISSIVE", [
      paOf("a", "DISABLE", { selector: sel, ports: [[80, "PERMISSIVE"]] }),
    ], []],
    [
      "workload UNSET under STRICT, port DISABLE (treated like PERMISSIVE)",
      [paOf("a", "STRICT", { name: "n" }), paOf("a", "UNSET", { selector: sel, ports: [[80, "DISABLE"]] })],
      [W],
    ],
    [
      "workload UNSET under PERMISSIVE, port STRICT",
      [paOf(ROOT, "PERMISSIVE"), paOf("a", "UNSET", { selector: sel, ports: [[80, "STRICT"]] })],
      [W],
    ],
    [
      "workload UNSET under PERMISSIVE, port PERMISSIVE",
      [paOf(ROOT, "PERMISSIVE"), paOf("a", "UNSET", { selector: sel, ports: [[80, "PERMISSIVE"]] })],
      [],
    ],
  ];
  for (const [name, pas, want] of cases) assert.deepEqual(peerAuthenticationKeys(ROOT, pas), want, name);
});

Deno.test("convertPeerAuthentication: only workload policies with port-level modes that change something", () => {
  const sel = { app: "x" };
  assert.equal(convertPeerAuthentication(ROOT, paOf("a", "STRICT")), undefined, "no selector");
  assert.equal(
    convertPeerAuthentication(ROOT, paOf(ROOT, "STRICT", { selector: sel, ports: [[80, "PERMISSIVE"]] })),
    undefined,
    "root ns",
  );
  assert.equal(
    convertPeerAuthentication(ROOT, paOf("a", "STRICT", { selector: sel })),
    undefined,
    "no ports",
  );
  assert.equal(
    convertPeerAuthentication(ROOT, paOf("a", "STRICT", { selector: sel, ports: [[80, "STRICT"]] })),
    undefined,
    "all strict",
  );
  assert.equal(
    convertPeerAuthentication(ROOT, paOf("a", "PERMISSIVE", { selector: sel, ports: [[80, "DISABLE"]] })),
    undefined,
    "all lax",
  );
  assert.equal(
    convertPeerAuthentication(ROOT, paOf("a", "UNSET", { selector: sel, ports: [[80, "PERMISSIVE"]] })),
    undefined,
    "lax port under a lax (absent) parent",
  );
  // A STRICT port under a PERMISSIVE workload is enforced even when only the mesh is STRICT.
  const p = convertPeerAuthentication(
    ROOT,
    paOf("a", "PERMISSIVE", { selector: sel, ports: [[80, "STRICT"]] }),
    undefined,
    paOf(ROOT, "STRICT", { name: "mesh" }),
  );
  assert.equal(p?.rules.length, 1);
  assert.deepEqual(p?.rules[0][0][0].destinationPorts, [80]);
  assert.deepEqual(p?.rules[0][0][0].notPrincipals, [{ kind: "presence" }]);
});

Deno.test("converted policies have istiod's exact shape", () => {
  const sel = { app: "one" };
  const presence = { kind: "presence" as const };
  assert.deepEqual(
    convertPeerAuthentication(
      ROOT,
      paOf("a", "STRICT", { selector: sel, ports: [[8080, "PERMISSIVE"], [9090, "PERMISSIVE"]] }),
    ),
    {
      name: "converted_peer_authentication_w",
      namespace: "a",
      scope: "WorkloadSelector",
      action: "Deny",
      rules: [[[match({ notPrincipals: [presence] })], [match({ notDestinationPorts: [8080] })], [
        match({ notDestinationPorts: [9090] }),
      ]]],
      dryRun: false,
    },
  );
  assert.deepEqual(
    convertPeerAuthentication(
      ROOT,
      paOf("b", "PERMISSIVE", { selector: sel, ports: [[8080, "STRICT"], [9090, "STRICT"]] }),
    )
      ?.rules,
    [
      [[match({ notPrincipals: [presence], destinationPorts: [8080] })]],
      [[match({ notPrincipals: [presence], destinationPorts: [9090] })]],
    ],
  );
  // UNSET under a STRICT namespace: the exemption, then the merged STRICT default.
  assert.deepEqual(
    convertPeerAuthentication(
      ROOT,
      paOf("a", "UNSET", { selector: sel, ports: [[8080, "PERMISSIVE"]] }),
      paOf("a", "STRICT", { name: "ns" }),
    )?.rules,
    [[[match({ notDestinationPorts: [8080] })], [match({ notPrincipals: [presence] })]]],
  );
  assert.deepEqual(staticStrictPolicy(ROOT), {
    name: "istio_converted_static_strict",
    namespace: ROOT,
    scope: "WorkloadSelector",
    action: "Deny",
    rules: [[[match({ notPrincipals: [presence] })]]],
    dryRun: false,
  });
});
