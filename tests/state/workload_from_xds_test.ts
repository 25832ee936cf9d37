import assert from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import { ipBytes } from "../../lib/state/ip.ts";
import {
  ADDRESS_TYPE_URL,
  addressFromXds,
  addressFromXdsBytes,
  encodeAddress,
  serviceFromXds,
  workloadFromXds,
} from "../../lib/state/workload_from_xds.ts";
import type { XdsService, XdsWorkload } from "../../lib/state/workload_xds_types.ts";

const ip = (s: string) => ipBytes(s)!;

function xdsError(field: RegExp) {
  return (e: unknown) => e instanceof ZtError && e.kind === "xds" && field.test(e.message);
}

const FULL_WORKLOAD: XdsWorkload = {
  uid: "cluster1//Pod/ns1/web-1",
  name: "web-1",
  namespace: "ns1",
  addresses: [ip("10.1.0.5"), ip("2001:db8::5")],
  hostname: "web-1.example.com",
  network: "net1",
  tunnelProtocol: 1,
  trustDomain: "td.example",
  serviceAccount: "web-sa",
  waypoint: { address: { network: "net1", address: ip("10.1.0.99") }, hboneMtlsPort: 15008 },
  networkGateway: {
    hostname: { namespace: "istio-system", hostname: "eastwest.example.com" },
    hboneMtlsPort: 15009,
  },
  node: "node-a",
  canonicalName: "web",
  canonicalRevision: "v2",
  workloadType: 2,
  workloadName: "web",
  nativeTunnel: true,
  authorizationPolicies: ["ns1/allow-web"],
  status: 1,
  clusterId: "cluster1",
  services: {
    "ns1/web.ns1.svc.cluster.local": { ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443 }] },
  },
  applicationTunnel: { protocol: 1, port: 15088 },
  locality: { region: "r1", zone: "z1", subzone: "s1" },
  networkMode: 1,
  extensions: [{ name: "ignored", config: { typeUrl: "x", value: new Uint8Array([1]) } }],
  capacity: { value: 7 },
};

Deno.test("a workload with every field converts through the wire", () => {
  const u = addressFromXdsBytes(encodeAddress({ workload: FULL_WORKLOAD }));
  assert.equal(u.kind, "workload");
  assert.ok(u.kind === "workload");
  assert.deepEqual(u.workload, {
    uid: "cluster1//Pod/ns1/web-1",
    name: "web-1",
    namespace: "ns1",
    trustDomain: "td.example",
    serviceAccount: "web-sa",
    workloadIps: ["10.1.0.5", "2001:db8::5"],
    network: "net1",
    protocol: "HBONE",
    node: "node-a",
    hostname: "web-1.example.com",
    waypoint: {
      destination: { kind: "address", address: { network: "net1", address: "10.1.0.99" } },
      hboneMtlsPort: 15008,
    },
    networkGateway: {
      destination: {
        kind: "hostname",
        hostname: { namespace: "istio-system", hostname: "eastwest.example.com" },
      },
      hboneMtlsPort: 15009,
    },
    canonicalName: "web",
    canonicalRevision: "v2",
    workloadName: "web",
    workloadType: "pod",
    nativeTunnel: true,
    applicationTunnel: { protocol: "PROXY", port: 15088 },
    authorizationPolicies: ["ns1/allow-web"],
    status: "Unhealthy",
    clusterId: "cluster1",
    networkMode: "HostNetwork",
    locality: { region: "r1", zone: "z1", subzone: "s1" },
    services: new Map([["ns1/web.ns1.svc.cluster.local", new Map([[80, 8080], [443, 0]])]]),
    capacity: 7,
    labels: {},
    annotations: {},
  });
});

Deno.test("an empty workload gets ztunnel's defaults", () => {
  const u = addressFromXdsBytes(encodeAddress({ workload: { uid: "u" } }));
  assert.ok(u.kind === "workload");
  const w = u.workload;
  assert.equal(w.trustDomain, "cluster.local");
  assert.equal(w.serviceAccount, "default");
  assert.equal(w.clusterId, "Kubernetes");
  assert.equal(w.capacity, 1);
  assert.equal(w.protocol, "TCP");
  assert.equal(w.workloadType, "deployment");
  assert.equal(w.status, "Healthy");
  assert.equal(w.networkMode, "Standard");
  assert.deepEqual(w.workloadIps, []);
  assert.equal(w.waypoint, undefined);
  assert.equal(w.networkGateway, undefined);
  assert.equal(w.applicationTunnel, undefined);
  assert.equal(w.locality, undefined);
  assert.equal(w.services.size, 0);
});

Deno.test("capacity 0 set explicitly stays 0; an application tunnel without port has none", () => {
  const w = workloadFromXds({ uid: "u", capacity: { value: 0 }, applicationTunnel: { protocol: 0 } });
  assert.equal(w.capacity, 0);
  assert.deepEqual(w.applicationTunnel, { protocol: "NONE", port: undefined });
});

Deno.test("an IPv4-mapped workload address is written as IPv4 (the state's canonical form)", () => {
  const mapped = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
  assert.deepEqual(workloadFromXds({ uid: "u", addresses: [mapped] }).workloadIps, ["10.0.0.1"]);
});

Deno.test("LEGACY_ISTIO_MTLS is rejected (NACK reason names tunnel_protocol)", () => {
  assert.throws(
    () => addressFromXdsBytes(encodeAddress({ workload: { uid: "u", tunnelProtocol: 2 } })),
    xdsError(/^tunnel_protocol: LEGACY_ISTIO_MTLS/),
  );
});

Deno.test("a bad IP length names the field", () => {
  assert.throws(
    () => workloadFromXds({ uid: "u", addresses: [ip("10.0.0.1"), new Uint8Array(5)] }),
    xdsError(/^addresses\[1\]: invalid IP length 5/),
  );
  assert.throws(
    () =>
      workloadFromXds({ uid: "u", waypoint: { address: { address: new Uint8Array(3) }, hboneMtlsPort: 1 } }),
    xdsError(/^waypoint\.address\.address: invalid IP length 3/),
  );
  assert.throws(
    () => serviceFromXds({ name: "s", addresses: [{ address: new Uint8Array(0) }] }),
    xdsError(/^addresses\[0\]\.address: invalid IP length 0/),
  );
});

Deno.test("unknown enum values and a gateway without destination are rejected", () => {
  assert.throws(() => workloadFromXds({ uid: "u", tunnelProtocol: 9 }), xdsError(/^tunnel_protocol:/));
  assert.throws(() => workloadFromXds({ uid: "u", workloadType: 9 }), xdsError(/^workload_type:/));
  assert.throws(() => workloadFromXds({ uid: "u", status: 5 }), xdsError(/^status:/));
  assert.throws(() => workloadFromXds({ uid: "u", networkMode: 5 }), xdsError(/^network_mode:/));
  assert.throws(
    () => workloadFromXds({ uid: "u", waypoint: { hboneMtlsPort: 15008 } }),
    xdsError(/^waypoint\.destination/),
  );
  assert.throws(
    () => workloadFromXds({ uid: "u", services: { "a/b": { ports: [{ servicePort: 70000 }] } } }),
    xdsError(/^services\[a\/b\]\.ports\[0\]\.service_port/),
  );
  assert.throws(() => addressFromXds({}), xdsError(/^address: neither/));
});

const FULL_SERVICE: XdsService = {
  name: "web",
  namespace: "ns1",
  hostname: "web.ns1.svc.cluster.local",
  addresses: [
    { network: "net1", address: ip("10.96.0.20") },
    { network: "", address: ip("fd00::20") },
    { network: "net1", address: ip("10.97.0.0"), length: 16 },
  ],
  ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 1 }, { servicePort: 9090, targetPort: 0 }],
  subjectAltNames: ["spiffe://td/ns/ns1/sa/extra"],
  waypoint: {
    hostname: { namespace: "ns1", hostname: "waypoint.ns1.svc.cluster.local" },
    hboneMtlsPort: 15008,
  },
  loadBalancing: { routingPreference: [1, 2, 3, 4, 5, 6], mode: 2, healthPolicy: 1 },
  ipFamilies: 3,
  extensions: [],
  canonical: true,
  ingressUseWaypoint: true,
  weightedWaypoints: [
    { destination: { address: { network: "", address: ip("10.1.0.50") }, hboneMtlsPort: 15008 }, weight: 80 },
  ],
  visibility: 1,
};

Deno.test("a service with every field converts through the wire", () => {
  const u = addressFromXdsBytes(encodeAddress({ service: FULL_SERVICE }));
  assert.ok(u.kind === "service");
  assert.deepEqual(u.service, {
    name: "web",
    namespace: "ns1",
    hostname: "web.ns1.svc.cluster.local",
    vips: [
      { network: "net1", address: "10.96.0.20" },
      { network: "", address: "fd00::20" },
      { network: "net1", address: "10.97.0.0", length: 16 },
    ],
    ports: new Map([[80, 8080], [9090, 0]]),
    subjectAltNames: ["spiffe://td/ns/ns1/sa/extra"],
    waypoint: {
      destination: {
        kind: "hostname",
        hostname: { namespace: "ns1", hostname: "waypoint.ns1.svc.cluster.local" },
      },
      hboneMtlsPort: 15008,
    },
    weightedWaypoints: [{
      destination: {
        destination: { kind: "address", address: { network: "", address: "10.1.0.50" } },
        hboneMtlsPort: 15008,
      },
      weight: 80,
    }],
    loadBalancer: {
      routingPreferences: ["Region", "Zone", "Subzone", "Node", "Cluster", "Network"],
      mode: "Failover",
      healthPolicy: "AllowAll",
    },
    ipFamilies: "Dual",
    canonical: true,
    visibility: "Namespace",
  });
});

Deno.test("a minimal (headless) service has no VIPs, no LB and automatic IP families", () => {
  const s = serviceFromXds({ name: "h", namespace: "n", hostname: "h.n.svc.cluster.local" });
  assert.deepEqual(s.vips, []);
  assert.equal(s.loadBalancer, undefined);
  assert.equal(s.ipFamilies, undefined);
  assert.equal(s.visibility, "Public");
  assert.equal(s.canonical, false);
  assert.equal(s.ports.size, 0);
});

Deno.test("service field errors name the field", () => {
  assert.throws(
    () => serviceFromXds({ addresses: [{ address: ip("10.0.0.0"), length: 33 }] }),
    xdsError(/^addresses\[0\]\.length: prefix length 33 exceeds 32/),
  );
  assert.throws(
    () => serviceFromXds({ loadBalancing: { routingPreference: [1, 0] } }),
    xdsError(/^load_balancing\.routing_preference\[1\]: invalid scope 0/),
  );
  assert.throws(() => serviceFromXds({ ipFamilies: 4 }), xdsError(/^ip_families:/));
  assert.throws(() => serviceFromXds({ visibility: 2 }), xdsError(/^visibility:/));
  assert.throws(
    () => serviceFromXds({ weightedWaypoints: [{ weight: 1 }] }),
    xdsError(/^weighted_waypoints\[0\]\.destination/),
  );
});

Deno.test("the Address type URL", () => {
  assert.equal(ADDRESS_TYPE_URL, "type.googleapis.com/istio.workload.Address");
});
