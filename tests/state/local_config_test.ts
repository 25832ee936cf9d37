import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import { loadLocalConfig, parseLocalConfig } from "../../lib/state/local_config.ts";
import { ports } from "./fixtures.ts";

/** The example of ztunnel-facts.md §5.2. */
const EXAMPLE = `
workloads:
- uid: demo//Pod/default/web
  name: web
  namespace: default
  serviceAccount: web
  workloadIps: ["10.1.0.5"]
  protocol: HBONE
  node: node-a
  services:
    "default/web.default.svc.cluster.local": {80: 8080}
services:
- name: web
  namespace: default
  hostname: web.default.svc.cluster.local
  vips: ["/10.96.0.20"]
  ports: {80: 8080}
policies:
- name: only-default-ns
  namespace: default
  scope: Namespace
  action: Allow
  dryRun: false
  rules:
  - - - namespaces: [{Exact: default}]
`;

Deno.test("local config: the facts-file example", () => {
  const cfg = parseLocalConfig(EXAMPLE, "localhost.yaml");
  equal(cfg.workloads.length, 1);
  const w = cfg.workloads[0];
  deepEqual(
    {
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
      trustDomain: w.trustDomain,
      workloadIps: w.workloadIps,
      protocol: w.protocol,
      node: w.node,
      network: w.network,
      status: w.status,
      clusterId: w.clusterId,
      capacity: w.capacity,
      networkMode: w.networkMode,
      workloadType: w.workloadType,
      canonicalName: w.canonicalName,
      canonicalRevision: w.canonicalRevision,
    },
    {
      uid: "demo//Pod/default/web",
      name: "web",
      namespace: "default",
      serviceAccount: "web",
      trustDomain: "cluster.local",
      workloadIps: ["10.1.0.5"],
      protocol: "HBONE",
      node: "node-a",
      network: "",
      status: "Healthy",
      clusterId: "Kubernetes",
      capacity: 1,
      networkMode: "Standard",
      workloadType: "deployment",
      canonicalName: "web",
      canonicalRevision: "latest",
    },
  );
  deepEqual(w.services, new Map([["default/web.default.svc.cluster.local", ports({ 80: 8080 })]]));
  deepEqual(cfg.services, [{
    name: "web",
    namespace: "default",
    hostname: "web.default.svc.cluster.local",
    vips: [{ network: "", address: "10.96.0.20" }],
    ports: ports({ 80: 8080 }),
    subjectAltNames: [],
    weightedWaypoints: [],
    canonical: false,
    visibility: "Public",
  }]);
  equal(cfg.policies.length, 1);
  equal(cfg.policies[0].name, "only-default-ns");
  equal(cfg.policies[0].scope, "Namespace");
  deepEqual(cfg.policies[0].rules[0][0][0].namespaces, [{ kind: "exact", value: "default" }]);
  deepEqual(cfg.istioDocuments, []);
  deepEqual(cfg.namespaces, []);
});

Deno.test("local config: defaults, derived uid and canonical names, gateways, extensions", () => {
  const cfg = parseLocalConfig(`
workloads:
- name: sleep-abc
  namespace: demo
  workloadIps: ["FD00::5", "::ffff:10.0.0.5"]
  labels: {app: sleep, version: v2}
  annotations: {ambient.istio.io/redirection: enabled}
  waypoint: {destination: "demo/waypoint.demo.svc.cluster.local"}
  networkGateway: {destination: "net2/172.16.0.1", hboneMtlsPort: 15009}
  applicationTunnel: {protocol: PROXY, port: 15088}
  locality: {region: r1, zone: z1}
  workloadType: Pod
  capacity: 3
services:
- name: cidr
  namespace: demo
  hostname: cidr.example
  vips: ["net1/10.97.0.0/16", "10.96.0.1"]
  ports: {443: 0}
  loadBalancer: {mode: Standard, routingPreferences: [Node], healthPolicy: AllowAll}
  weightedWaypoints:
  - {destination: "demo/wp1.demo.svc.cluster.local", weight: 2}
  - {destination: {destination: "/10.0.0.9", hboneMtlsPort: 15008}, weight: 1}
  visibility: Namespace
  canonical: true
  ipFamilies: Dual
namespaces:
- name: demo
  labels: {istio.io/dataplane-mode: ambient}
`);
  const w = cfg.workloads[0];
  equal(w.uid, "Kubernetes//Pod/demo/sleep-abc");
  deepEqual(w.workloadIps, ["fd00::5", "10.0.0.5"]);
  equal(w.serviceAccount, "default");
  equal(w.protocol, "TCP");
  equal(w.canonicalName, "sleep");
  equal(w.canonicalRevision, "v2");
  equal(w.workloadName, "sleep-abc");
  equal(w.workloadType, "pod");
  equal(w.capacity, 3);
  deepEqual(w.labels, { app: "sleep", version: "v2" });
  deepEqual(w.annotations, { "ambient.istio.io/redirection": "enabled" });
  deepEqual(w.waypoint, {
    destination: {
      kind: "hostname",
      hostname: { namespace: "demo", hostname: "waypoint.demo.svc.cluster.local" },
    },
    hboneMtlsPort: 15008,
  });
  deepEqual(w.networkGateway, {
    destination: { kind: "address", address: { network: "net2", address: "172.16.0.1" } },
    hboneMtlsPort: 15009,
  });
  deepEqual(w.applicationTunnel, { protocol: "PROXY", port: 15088 });
  deepEqual(w.locality, { region: "r1", zone: "z1", subzone: "" });
  const s = cfg.services[0];
  deepEqual(s.vips, [{ network: "net1", address: "10.97.0.0", length: 16 }, {
    network: "",
    address: "10.96.0.1",
  }]);
  deepEqual(s.ports, ports({ 443: 0 }));
  deepEqual(s.loadBalancer, {
    mode: "UnspecifiedMode",
    routingPreferences: ["Node"],
    healthPolicy: "AllowAll",
  });
  equal(s.weightedWaypoints.length, 2);
  deepEqual(s.weightedWaypoints[1], {
    destination: {
      destination: { kind: "address", address: { network: "", address: "10.0.0.9" } },
      hboneMtlsPort: 15008,
    },
    weight: 1,
  });
  equal(s.weightedWaypoints[0].weight, 2);
  equal(s.visibility, "Namespace");
  equal(s.canonical, true);
  equal(s.ipFamilies, "Dual");
  deepEqual(cfg.namespaces, [{ name: "demo", labels: { "istio.io/dataplane-mode": "ambient" } }]);
});

Deno.test("local config: multi-document streams with Kubernetes security objects", () => {
  const cfg = parseLocalConfig(`
workloads:
- {name: a, namespace: ns, workloadIps: ["10.0.0.1"]}
---
# only a comment
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: ns}
spec: {}
---
services:
- {name: s, namespace: ns, hostname: s.ns.svc.cluster.local, vips: ["/10.96.0.1"], ports: {80: 80}}
`);
  equal(cfg.workloads.length, 1);
  equal(cfg.services.length, 1);
  deepEqual(cfg.istioDocuments, [{
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "deny-all", namespace: "ns" },
    spec: {},
  }]);
  deepEqual(parseLocalConfig(""), {
    workloads: [],
    services: [],
    policies: [],
    istioDocuments: [],
    namespaces: [],
  });
});

Deno.test("local config: errors name the source, document and field path", () => {
  const wl = (body: string) =>
    `workloads:\n- {name: a, namespace: ns, workloadIps: ["10.0.0.1"]}\n- ${body}\n`;
  const cases: Array<[string, string]> = [
    [
      wl(`{name: b, namespace: ns, workloadIps: ["10.0.0.x"]}`),
      'config.yaml: workloads[1].workloadIps[0]: invalid IP "10.0.0.x"',
    ],
    [
      `services:\n- {name: s, namespace: n, hostname: h, vips: [], ports: {http: 80}}`,
      'config.yaml: services[0].ports: key "http" is not a port number',
    ],
    [
      `services:\n- {name: s, namespace: n, hostname: h, vips: [], ports: {0: 80}}`,
      'config.yaml: services[0].ports: key "0" is not a port number',
    ],
    [
      `services:\n- {name: s, namespace: n, hostname: h, vips: [], ports: {80: 70000}}`,
      "config.yaml: services[0].ports.80: expected an integer in 0..65535",
    ],
    [
      `workloads:\n- {name: a, namespace: ns, workloadIps: [], serviceaccount: x}`,
      'config.yaml: workloads[0]: unknown field "serviceaccount"',
    ],
    [
      `workloads:\n- {name: a, workloadIps: []}`,
      'config.yaml: workloads[0]: missing required field "namespace"',
    ],
    [
      `workloads:\n- {name: a, namespace: ns}`,
      'config.yaml: workloads[0]: missing required field "workloadIps"',
    ],
    [
      `workloads:\n- {namespace: ns, workloadIps: []}`,
      'config.yaml: workloads[0]: missing required field "uid"',
    ],
    [
      `workloads:\n- {name: a, namespace: ns, workloadIps: [], protocol: hbone}`,
      'config.yaml: workloads[0].protocol: invalid value "hbone"',
    ],
    [
      `workloads:\n- {name: a, namespace: ns, workloadIps: [], labels: {version: 1}}`,
      "config.yaml: workloads[0].labels.version: expected a string",
    ],
    [
      `workloads:\n- {name: a, namespace: ns, workloadIps: [], waypoint: {destination: "nohost"}}`,
      'config.yaml: workloads[0].waypoint.destination: invalid destination "nohost"',
    ],
    [
      `workloads:\n- {name: a, namespace: ns, workloadIps: [], services: {"bad": {80: 80}}}`,
      'config.yaml: workloads[0].services: key "bad" is not "namespace/hostname"',
    ],
    [
      `services:\n- {name: s, namespace: n, hostname: h, vips: ["/10.0.0.0/33"], ports: {}}`,
      'config.yaml: services[0].vips[0]: invalid address "/10.0.0.0/33"',
    ],
    [
      `services:\n- {name: s, namespace: n, vips: [], ports: {}}`,
      'config.yaml: services[0]: missing required field "hostname"',
    ],
    [
      `policies:\n- {name: p, namespace: n, scope: Everywhere, action: Allow, rules: []}`,
      "config.yaml: policies[0].scope: unknown scope",
    ],
    [`workload:\n- {}`, 'config.yaml: unknown field "workload"'],
    [
      `hello: world`,
      'config.yaml: unknown field "hello" (expected workloads, services, policies, namespaces, or a',
    ],
    [`- 1\n- 2`, "config.yaml: expected a mapping at the top of the document"],
    [`workloads: {a: 1}`, "config.yaml: workloads: expected a list"],
    [`workloads: [\n`, "config.yaml: invalid YAML"],
    [
      `workloads: []\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}`,
      'config.yaml (document 2): unsupported Kubernetes object apps/v1 Deployment "ns/web"',
    ],
    [
      `workloads: []\n---\nworkloads:\n- {name: a, namespace: ns, workloadIps: [1.2.3]}`,
      'config.yaml (document 2): workloads[0].workloadIps[0]: invalid IP "1.2.3"',
    ],
    [
      wl(`{name: a, namespace: ns, workloadIps: ["10.0.0.2"]}`),
      'config.yaml: workloads[1]: duplicate workload uid "Kubernetes//Pod/ns/a" (also at config.yaml: workloads[0])',
    ],
    [
      wl(`{name: b, namespace: ns, workloadIps: ["10.0.0.1"]}`),
      'config.yaml: workloads[1]: duplicate workload address "/10.0.0.1"',
    ],
    [
      `services:\n- {name: s, namespace: n, hostname: h, vips: [], ports: {}}\n- {name: t, namespace: n, hostname: h, vips: [], ports: {}}`,
      'config.yaml: services[1]: duplicate service "n/h"',
    ],
  ];
  for (const [text, want] of cases) {
    throws(() => parseLocalConfig(text, "config.yaml"), (e: unknown) => {
      ok(e instanceof ZtError, `not a ZtError: ${e}`);
      equal(e.kind, "config");
      ok(e.message.startsWith(want), `got: ${e.message}\nwant prefix: ${want}`);
      return true;
    });
  }
});

Deno.test("local config: same IP on different networks, and HostNetwork pods sharing the node IP, are fine", () => {
  const cfg = parseLocalConfig(`
workloads:
- {name: a, namespace: ns, workloadIps: ["10.0.0.1"], network: n1}
- {name: b, namespace: ns, workloadIps: ["10.0.0.1"], network: n2}
- {name: c, namespace: ns, workloadIps: ["192.168.0.1"], networkMode: HostNetwork}
- {name: d, namespace: ns, workloadIps: ["192.168.0.1"], networkMode: HostNetwork}
`);
  equal(cfg.workloads.length, 4);
});

Deno.test("loadLocalConfig reads a file or a directory of yaml files in name order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      `services:\n- {name: s, namespace: n, hostname: h, vips: [], ports: {}}\n`,
    );
    await Deno.writeTextFile(
      `${dir}/a.yml`,
      `workloads:\n- {name: a, namespace: ns, workloadIps: ["10.0.0.1"]}\n`,
    );
    await Deno.writeTextFile(`${dir}/c.txt`, `not yaml: [`);
    await Deno.writeTextFile(`${dir}/.hidden.yaml`, `nonsense: true`);
    const fromDir = await loadLocalConfig(dir);
    equal(fromDir.workloads.length, 1);
    equal(fromDir.services.length, 1);
    const fromFile = await loadLocalConfig(`${dir}/a.yml`);
    equal(fromFile.workloads.length, 1);
    equal(fromFile.services.length, 0);
    await Deno.writeTextFile(
      `${dir}/d.yaml`,
      `workloads:\n- {name: a, namespace: ns, workloadIps: ["10.0.0.9"]}\n`,
    );
    await rejects(loadLocalConfig(dir), (e: Error) => {
      equal(
        e.message,
        `${dir}/d.yaml: workloads[0]: duplicate workload uid "Kubernetes//Pod/ns/a" (also at ${dir}/a.yml: workloads[0])`,
      );
      return true;
    });
    await rejects(
      loadLocalConfig(`${dir}/missing.yaml`),
      (e: unknown) => e instanceof ZtError && e.kind === "config",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
