/**
 * Property-based fuzzing of the local config parser (lib/state/local_config.ts, ztunnel's
 * LOCAL_XDS_PATH format): random text, character-level mutations of a full example, and a valid
 * document with any field (at any depth) replaced by a random YAML value. The parser returns a config
 * or a ZtError("config"); never a TypeError or any other exception.
 */
import fc from "fast-check";
import YAML from "yaml";
import { fuzzParams } from "./budget.ts";
import { ZtError } from "../../lib/error.ts";
import { parseLocalConfig } from "../../lib/state/local_config.ts";

const EXAMPLE = {
  workloads: [{
    uid: "demo//Pod/default/web",
    name: "web",
    namespace: "default",
    serviceAccount: "web",
    trustDomain: "cluster.local",
    workloadIps: ["10.1.0.5", "2001:db8::5"],
    protocol: "HBONE",
    node: "node-a",
    network: "net1",
    hostname: "web.example.com",
    waypoint: { destination: "net1/10.1.0.99", hboneMtlsPort: 15008 },
    networkGateway: { destination: "istio-system/eastwest.example.com", hboneMtlsPort: 15009 },
    canonicalName: "web",
    canonicalRevision: "v1",
    workloadName: "web",
    workloadType: "deployment",
    nativeTunnel: false,
    applicationTunnel: { protocol: "PROXY", port: 15088 },
    authorizationPolicies: ["default/allow"],
    status: "Healthy",
    clusterId: "Kubernetes",
    networkMode: "Standard",
    locality: { region: "r1", zone: "z1", subzone: "s1" },
    services: { "default/web.default.svc.cluster.local": { 80: 8080 } },
    capacity: 1,
    labels: { app: "web" },
    annotations: { a: "b" },
  }],
  services: [{
    name: "web",
    namespace: "default",
    hostname: "web.default.svc.cluster.local",
    vips: ["/10.96.0.20", "net1/10.96.0.0/16"],
    ports: { 80: 8080 },
    subjectAltNames: ["spiffe://cluster.local/ns/default/sa/web"],
    waypoint: { destination: "/10.1.0.99", hboneMtlsPort: 15008 },
    weightedWaypoints: [{ destination: "/10.1.0.98", weight: 3 }],
    loadBalancer: { routingPreferences: ["Node", "Zone"], mode: "Failover", healthPolicy: "AllowAll" },
    ipFamilies: "Dual",
    canonical: true,
    visibility: "Public",
  }],
  policies: [{
    name: "only-default-ns",
    namespace: "default",
    scope: "Namespace",
    action: "Allow",
    dryRun: false,
    rules: [[[{ namespaces: [{ Exact: "default" }], sourceIps: ["10.0.0.0/8"], destinationPorts: [80] }]]],
  }],
  namespaces: [{ name: "default", labels: { "istio.io/dataplane-mode": "ambient" } }],
};

/** Any YAML-representable value, with the shapes the parser expects turning up often. */
const yamlValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      65535,
      65536,
      1.5,
      "",
      "10.0.0.1",
      "::1",
      "a/b",
      "/10.0.0.0/8",
      "*",
    ),
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("80", "Exact", "Prefix", "destination")),
      tie("v"),
      {
        maxKeys: 3,
      },
    ),
  ),
})).v;

/** Every path into a value (keys and indices), to pick one to replace. */
function paths(v: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  }
  return out;
}

function replaced(doc: unknown, path: Array<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  if (doc === null || typeof doc !== "object") return doc;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) {
    const next = o[k];
    if (next === null || typeof next !== "object") return doc; // an earlier replacement removed the path
    o = next as Record<string | number, unknown>;
  }
  o[path[path.length - 1]] = value;
  return copy;
}

function parseChecked(text: string): void {
  try {
    parseLocalConfig(text, "fuzz.yaml");
  } catch (e) {
    if (e instanceof ZtError && e.kind === "config") return;
    throw e;
  }
}

const EXAMPLE_PATHS = paths(EXAMPLE);
const EXAMPLE_TEXT = YAML.stringify(EXAMPLE);

Deno.test("fuzz local config: the example itself parses", () => {
  const cfg = parseLocalConfig(EXAMPLE_TEXT);
  if (cfg.workloads.length !== 1 || cfg.services.length !== 1 || cfg.policies.length !== 1) {
    throw new Error("example");
  }
});

Deno.test("fuzz local config: one field anywhere replaced by any value → config or ZtError(config)", () => {
  fc.assert(
    fc.property(
      fc.nat(EXAMPLE_PATHS.length - 1),
      yamlValue,
      fc.nat(EXAMPLE_PATHS.length - 1),
      yamlValue,
      (i, v, j, w) => {
        const doc = replaced(replaced(EXAMPLE, EXAMPLE_PATHS[i], v), EXAMPLE_PATHS[j], w);
        parseChecked(YAML.stringify(doc));
      },
    ),
    fuzzParams(),
  );
});

Deno.test("fuzz local config: character-level mutations of the example text", () => {
  const edit = fc.tuple(fc.nat(2), fc.nat(), fc.constantFrom(..." :-[]{}\n\"'&*!|>#0a/.%"));
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
      const t = [...EXAMPLE_TEXT];
      for (const [kind, pos, c] of edits) {
        const at = pos % t.length;
        if (kind === 0) t[at] = c;
        else if (kind === 1) t.splice(at, 1);
        else t.splice(at, 0, c);
      }
      parseChecked(t.join(""));
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz local config: random text and random YAML documents", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), yamlValue.map((v) => YAML.stringify(v))), (text) => {
      parseChecked(text);
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz local config (found): an alias to no anchor is a ZtError(config), not a ReferenceError", () => {
  for (const text of ["*nothing", "workloads:\n- *w\n", "services: [*s]"]) {
    try {
      parseLocalConfig(text);
      throw new Error(`${JSON.stringify(text)} parsed`);
    } catch (e) {
      if (!(e instanceof ZtError && e.kind === "config" && /invalid YAML/.test(e.message))) throw e;
    }
  }
});
