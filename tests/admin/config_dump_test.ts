import assert from "node:assert/strict";
import { buildConfigDump, serviceToDump, toJsonValue } from "../../lib/admin/config_dump.ts";
import { addressGateway, hostnameGateway, service } from "../state/fixtures.ts";
import { sampleSource, sampleState } from "./sample_mesh.ts";

type Obj = Record<string, unknown>;

function dumpJson(): Obj {
  // round-trip through JSON: the admin endpoint serves exactly this
  return JSON.parse(JSON.stringify(buildConfigDump(sampleSource(sampleState(), [
    { identity: "spiffe://cluster.local/ns/b/sa/b", state: "Initializing", certChain: [], rootCerts: [] },
    { identity: "spiffe://cluster.local/ns/a/sa/a", state: "Available", certChain: [], rootCerts: [] },
  ]))));
}

Deno.test("config_dump has ztunnel's top-level keys in ztunnel's order", () => {
  assert.deepEqual(Object.keys(dumpJson()), [
    "workloads",
    "services",
    "policies",
    "stagedServices",
    "staticConfig",
    "version",
    "config",
    "certificates",
  ]);
});

Deno.test("workloads are sorted by uid, camelCase, with default-valued fields omitted", () => {
  const d = dumpJson();
  const wls = d.workloads as Obj[];
  assert.deepEqual(wls.map((w) => w.uid), [
    "Kubernetes//Pod/ambient-demo/httpbin-648cd984f8-2q9bn",
    "Kubernetes//Pod/ambient-demo/sleep-7656cf8794-lxcmx",
    "Kubernetes//Pod/ambient-demo/waypoint-5cdd6745d5-rc2gg",
    "Kubernetes//Pod/late/early-1",
  ]);
  assert.deepEqual(wls[0], {
    workloadIps: ["10.240.1.5"],
    waypoint: { destination: "ambient-demo/waypoint.ambient-demo.svc.cluster.local", hboneMtlsPort: 15008 },
    protocol: "HBONE",
    networkMode: "Standard",
    uid: "Kubernetes//Pod/ambient-demo/httpbin-648cd984f8-2q9bn",
    name: "httpbin-648cd984f8-2q9bn",
    namespace: "ambient-demo",
    trustDomain: "cluster.local",
    serviceAccount: "httpbin",
    workloadName: "httpbin",
    workloadType: "deployment",
    canonicalName: "httpbin",
    canonicalRevision: "v1",
    node: "amb1-worker",
    authorizationPolicies: ["ambient-demo/allow-sleep"],
    status: "Unhealthy",
    clusterId: "Kubernetes",
    locality: { region: "eu", zone: "eu-1", subzone: "" },
    services: ["ambient-demo/httpbin.ambient-demo.svc.cluster.local"],
    capacity: 1,
  });
  // zt keeps the pod labels; network/hostname/nativeTunnel false are omitted
  assert.deepEqual(wls[1].labels, { app: "sleep" });
  assert.ok(!("network" in wls[1]) && !("hostname" in wls[1]) && !("nativeTunnel" in wls[1]));
  assert.equal(wls[2].nativeTunnel, true);
  assert.deepEqual(wls[2].applicationTunnel, { protocol: "PROXY", port: 15088 });
});

Deno.test("services are sorted by hostname with network/ip VIPs, port maps and endpoints by uid", () => {
  const svcs = dumpJson().services as Obj[];
  assert.deepEqual(svcs.map((s) => s.hostname), [
    "httpbin.ambient-demo.svc.cluster.local",
    "sleep.ambient-demo.svc.cluster.local",
    "waypoint.ambient-demo.svc.cluster.local",
  ]);
  assert.deepEqual(svcs[0], {
    name: "httpbin",
    namespace: "ambient-demo",
    hostname: "httpbin.ambient-demo.svc.cluster.local",
    vips: ["/10.96.0.20"],
    cidrVips: [{ cidr: "10.1.0.0/16", network: "net2" }],
    ports: { "80": 8080, "8000": 8080 },
    endpoints: {
      "Kubernetes//Pod/ambient-demo/httpbin-648cd984f8-2q9bn": {
        workloadUid: "Kubernetes//Pod/ambient-demo/httpbin-648cd984f8-2q9bn",
        port: { "8000": 8080 },
        status: "Unhealthy",
      },
    },
    subjectAltNames: ["spiffe://cluster.local/ns/ambient-demo/sa/httpbin"],
    waypoint: { destination: "ambient-demo/waypoint.ambient-demo.svc.cluster.local", hboneMtlsPort: 15008 },
    loadBalancer: { routingPreferences: ["Network", "Region"], mode: "Standard", healthPolicy: "AllowAll" },
    ipFamilies: "IPv4",
    canonical: true,
    visibility: "Public",
  });
  assert.equal(svcs[1].visibility, "Public", "rendered even when default, as ztunnel");
  assert.deepEqual(svcs[1].endpoints, {
    "Kubernetes//Pod/ambient-demo/sleep-7656cf8794-lxcmx": {
      workloadUid: "Kubernetes//Pod/ambient-demo/sleep-7656cf8794-lxcmx",
      port: { "80": 80 },
      status: "Healthy",
    },
  });
});

Deno.test("policies sorted by ns/name in ztunnel's shape; staged services; certificates by identity", () => {
  const d = dumpJson();
  assert.deepEqual(d.policies, [
    {
      name: "allow-sleep",
      namespace: "ambient-demo",
      scope: "WorkloadSelector",
      action: "Allow",
      rules: [[[{ principals: [{ Exact: "cluster.local/ns/ambient-demo/sa/sleep" }] }]]],
      dryRun: false,
    },
    {
      name: "deny-all",
      namespace: "kube-system",
      scope: "Namespace",
      action: "Deny",
      rules: [],
      dryRun: true,
    },
  ]);
  assert.deepEqual(d.stagedServices, {
    "late/later.late.svc.cluster.local": {
      "Kubernetes//Pod/late/early-1": {
        workloadUid: "Kubernetes//Pod/late/early-1",
        port: { "90": 9090 },
        status: "Healthy",
      },
    },
  });
  assert.deepEqual((d.certificates as Obj[]).map((c) => c.identity), [
    "spiffe://cluster.local/ns/a/sa/a",
    "spiffe://cluster.local/ns/b/sa/b",
  ]);
  assert.deepEqual(d.staticConfig, { workloads: [], policies: [], services: [] });
  assert.deepEqual(d.version, { version: "0.1.0", istioVersion: "1.24.0" });
  // Maps inside config become objects
  assert.deepEqual(d.config, { proxyMode: "Shared", windowSize: 4194304, extra: { a: 1 } });
});

Deno.test("toJsonValue turns Maps, Sets, bigints and dates into JSON values", () => {
  assert.deepEqual(
    toJsonValue({
      m: new Map([[80, new Set(["x"])]]),
      b: 12n,
      d: new Date(0),
      skip: undefined,
      f: () => 1,
      nested: [new Map([["k", "v"]])],
    }),
    { m: { "80": ["x"] }, b: "12", d: "1970-01-01T00:00:00.000Z", nested: [{ k: "v" }] },
  );
});

/** ztunnel's serde field names (src/state/workload.rs Workload, src/state/service.rs Service, …). */
const ZTUNNEL_KEYS = {
  workload: [
    "workloadIps",
    "waypoint",
    "networkGateway",
    "protocol",
    "networkMode",
    "uid",
    "name",
    "namespace",
    "trustDomain",
    "serviceAccount",
    "network",
    "workloadName",
    "workloadType",
    "canonicalName",
    "canonicalRevision",
    "hostname",
    "node",
    "nativeTunnel",
    "applicationTunnel",
    "authorizationPolicies",
    "status",
    "clusterId",
    "locality",
    "services",
    "capacity",
  ],
  service: [
    "name",
    "namespace",
    "hostname",
    "vips",
    "cidrVips",
    "ports",
    "endpoints",
    "subjectAltNames",
    "waypoint",
    "weightedWaypoints",
    "loadBalancer",
    "ipFamilies",
    "canonical",
    "visibility",
  ],
  endpoint: ["workloadUid", "port", "status"],
  policy: ["name", "namespace", "scope", "action", "rules", "dryRun"],
  certificate: ["identity", "state", "certChain", "rootCerts"],
};

Deno.test("every key zt writes is ztunnel's, in ztunnel's order (zt's one extension: workload labels)", () => {
  const d = dumpJson();
  const check = (o: Obj, keys: string[], what: string) => {
    const own = Object.keys(o).filter((k) => !(what === "workload" && k === "labels"));
    assert.deepEqual(own, keys.filter((k) => k in o), `${what} ${JSON.stringify(o).slice(0, 80)}`);
  };
  for (const w of d.workloads as Obj[]) check(w, ZTUNNEL_KEYS.workload, "workload");
  for (const s of d.services as Obj[]) {
    check(s, ZTUNNEL_KEYS.service, "service");
    for (const e of Object.values(s.endpoints as Record<string, Obj>)) {
      check(e, ZTUNNEL_KEYS.endpoint, "endpoint");
    }
  }
  for (const p of d.policies as Obj[]) check(p, ZTUNNEL_KEYS.policy, "policy");
  for (const c of d.certificates as Obj[]) check(c, ZTUNNEL_KEYS.certificate, "certificate");
});

Deno.test("services: weighted waypoints as ztunnel's {destination: {destination, hboneMtlsPort}, weight}", () => {
  const s = service({
    name: "w",
    weightedWaypoints: [
      { destination: hostnameGateway("ops", "wp1.ops.svc.cluster.local"), weight: 90 },
      { destination: addressGateway("", "10.0.9.7", 15009), weight: 10 },
    ],
  });
  assert.deepEqual(JSON.parse(JSON.stringify(serviceToDump(s, []))).weightedWaypoints, [
    { destination: { destination: "ops/wp1.ops.svc.cluster.local", hboneMtlsPort: 15008 }, weight: 90 },
    { destination: { destination: "/10.0.9.7", hboneMtlsPort: 15009 }, weight: 10 },
  ]);
});
