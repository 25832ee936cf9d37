/**
 * Property-based fuzzing of the xDS input path: the DeltaDiscoveryResponse envelope (lib/xds/proto.ts)
 * and the Address / Authorization resources through decode + conversion
 * (lib/state/workload_from_xds.ts, lib/policy/authorization_from_xds.ts), fed random protobuf bytes,
 * byte-mutated valid resources, and valid resources with any field set to another value of its type.
 * Each gives a result or a typed ZtError (xds); never a TypeError or another exception.
 */
import fc from "fast-check";
import { fuzzParams } from "./budget.ts";
import { ZtError } from "../../lib/error.ts";
import { deltaResponseCodec } from "../../lib/xds/proto.ts";
import { addressFromXdsBytes, encodeAddress } from "../../lib/state/workload_from_xds.ts";
import type { XdsAddress } from "../../lib/state/workload_xds_types.ts";
import {
  authorizationFromXdsBytes,
  encodeAuthorization,
  type XdsAuthorization,
} from "../../lib/policy/authorization_from_xds.ts";
import { ipBytes } from "../../lib/state/ip.ts";

const ip = (s: string) => ipBytes(s)!;

const WORKLOAD: XdsAddress = {
  workload: {
    uid: "c1//Pod/ns1/web-1",
    name: "web-1",
    namespace: "ns1",
    addresses: [ip("10.1.0.5"), ip("2001:db8::5")],
    hostname: "web-1.example.com",
    network: "net1",
    tunnelProtocol: 1,
    trustDomain: "td",
    serviceAccount: "web",
    waypoint: { address: { network: "net1", address: ip("10.1.0.99") }, hboneMtlsPort: 15008 },
    networkGateway: {
      hostname: { namespace: "istio-system", hostname: "ew.example.com" },
      hboneMtlsPort: 15009,
    },
    node: "node-a",
    canonicalName: "web",
    canonicalRevision: "v2",
    workloadType: 2,
    workloadName: "web",
    nativeTunnel: true,
    authorizationPolicies: ["ns1/allow"],
    status: 1,
    clusterId: "c1",
    services: {
      "ns1/web.ns1.svc.cluster.local": {
        ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443 }],
      },
    },
    applicationTunnel: { protocol: 1, port: 15088 },
    locality: { region: "r", zone: "z", subzone: "s" },
    networkMode: 1,
    extensions: [{ name: "x", config: { typeUrl: "t", value: new Uint8Array([1]) } }],
    capacity: { value: 7 },
  },
};

const SERVICE: XdsAddress = {
  service: {
    name: "web",
    namespace: "ns1",
    hostname: "web.ns1.svc.cluster.local",
    addresses: [{ network: "net1", address: ip("10.96.0.20") }, {
      network: "",
      address: ip("10.97.0.0"),
      length: 16,
    }],
    ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 1 }, { servicePort: 9090, targetPort: 0 }],
    subjectAltNames: ["spiffe://td/ns/ns1/sa/extra"],
    waypoint: { hostname: { namespace: "ns1", hostname: "waypoint.ns1" }, hboneMtlsPort: 15008 },
    loadBalancing: { routingPreference: [1, 2, 3], mode: 2, healthPolicy: 1 },
    ipFamilies: 3,
    canonical: true,
    weightedWaypoints: [{ destination: { address: { network: "", address: ip("10.1.0.50") } }, weight: 80 }],
    visibility: 1,
  },
};

const POLICY: XdsAuthorization = {
  name: "allow-web",
  namespace: "ns1",
  scope: 2,
  action: 1,
  dryRun: true,
  rules: [{
    clauses: [{
      matches: [{
        namespaces: [{ exact: "ns1" }],
        notNamespaces: [{ prefix: "kube-" }],
        principals: [{ suffix: "/sa/web" }],
        notPrincipals: [{ presence: {} }],
        sourceIps: [{ address: ip("10.0.0.0"), length: 8 }],
        destinationIps: [{ address: ip("2001:db8::"), length: 32 }],
        destinationPorts: [80, 443],
        serviceAccounts: [{ namespace: "ns1", serviceAccount: "web" }],
      }],
    }],
  }],
};

/** Runs a decoder; a ZtError of kind xds is a fine answer, anything else thrown is a bug. */
function checked(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (e instanceof ZtError && e.kind === "xds") return;
    throw e;
  }
}

const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
  ["DeltaDiscoveryResponse", (b) => deltaResponseCodec.decode(b)],
  ["Address", addressFromXdsBytes],
  ["Authorization", authorizationFromXdsBytes],
];

/** Every path into a value. */
function paths(v: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out = [prefix];
  if (v instanceof Uint8Array) return out;
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  }
  return out;
}

/** Another value of the same JS type (so the message still encodes): numbers, strings, bytes, ... */
function sameType(old: unknown, seed: number, text: string, bytes: Uint8Array): unknown {
  if (typeof old === "number") return [0, 1, 2, 3, 7, 255, 65535, 65536, 0x7fffffff, seed][seed % 10];
  if (typeof old === "string") return [text, "", "a/b/c", "/", "spiffe://x", "10.0.0.1"][seed % 6];
  if (typeof old === "boolean") return !old;
  if (old instanceof Uint8Array) return bytes;
  if (Array.isArray(old)) return seed % 2 ? [] : [...old, ...old];
  return seed % 3 ? null : {};
}

function withField<T>(doc: T, path: Array<string | number>, value: unknown): T {
  if (path.length === 0) return doc;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path[path.length - 1]] = value;
  return copy as T;
}

Deno.test("fuzz xds: random bytes decode and convert to a result or ZtError(xds)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      for (const [, d] of decoders) checked(() => d(b));
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz xds: byte-mutated valid resources", () => {
  const valid = [encodeAddress(WORKLOAD), encodeAddress(SERVICE), encodeAuthorization(POLICY)];
  const edit = fc.tuple(fc.nat(2), fc.nat(), fc.nat(255));
  fc.assert(
    fc.property(fc.nat(2), fc.array(edit, { minLength: 1, maxLength: 5 }), (which, edits) => {
      const b = [...valid[which]];
      for (const [kind, pos, v] of edits) {
        const i = pos % b.length;
        if (kind === 0) b[i] = v;
        else if (kind === 1) b.splice(i, 1);
        else b.splice(i, 0, v);
      }
      const bytes = new Uint8Array(b);
      for (const [, d] of decoders) checked(() => d(bytes));
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz xds: valid resources with any field set to another value of its type", () => {
  const docs: Array<[unknown, (d: never) => Uint8Array, (b: Uint8Array) => unknown]> = [
    [WORKLOAD, encodeAddress, addressFromXdsBytes],
    [SERVICE, encodeAddress, addressFromXdsBytes],
    [POLICY, encodeAuthorization, authorizationFromXdsBytes],
  ];
  const all = docs.map(([d]) => paths(d));
  fc.assert(
    fc.property(
      fc.nat(2),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 })), {
        minLength: 1,
        maxLength: 3,
      }),
      (which, edits) => {
        const [doc, encode, convert] = docs[which];
        let d = doc;
        for (const [p, seed, text, bytes] of edits) {
          const path = all[which][p % all[which].length];
          let old: unknown = d;
          for (const k of path) old = (old as Record<string | number, unknown>)?.[k];
          if (old === undefined) continue;
          d = withField(d, path, sameType(old, seed, text, bytes));
        }
        let wire: Uint8Array;
        try {
          wire = encode(d as never);
        } catch (e) {
          if (e instanceof ZtError && e.kind === "proto") return; // not encodable: not a wire case
          throw e;
        }
        checked(() => convert(wire));
      },
    ),
    fuzzParams(),
  );
});

Deno.test("fuzz xds: the base resources themselves convert (so mutations start deep)", () => {
  const w = addressFromXdsBytes(encodeAddress(WORKLOAD));
  const s = addressFromXdsBytes(encodeAddress(SERVICE));
  const p = authorizationFromXdsBytes(encodeAuthorization(POLICY));
  if (w.kind !== "workload" || s.kind !== "service" || p.name !== "allow-web") {
    throw new Error("base resources");
  }
});
