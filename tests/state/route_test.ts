import { deepEqual, equal } from "node:assert/strict";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { LoadBalancerState, type OutboundRoute, routeOutbound } from "../../lib/state/route.ts";
import type { Service, Workload } from "../../lib/state/types.ts";
import { addressGateway, hostnameGateway, service, workload } from "./fixtures.ts";

const NS = "ambient-demo";
const HTTPBIN = `${NS}/httpbin.${NS}.svc.cluster.local`;
const ID = (sa: string, ns = NS) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

const sleep = workload({
  name: "sleep",
  namespace: NS,
  serviceAccount: "sleep",
  workloadIps: ["10.244.1.5"],
});
const httpbin = (
  name: string,
  ip: string,
  extra: Partial<Workload> = {},
  ports: Record<number, number> = {},
) =>
  workload({
    name,
    namespace: NS,
    serviceAccount: "httpbin",
    workloadIps: [ip],
    services: { [HTTPBIN]: ports },
    ...extra,
  });
const httpbinSvc = (extra: Partial<Service> = {}) =>
  service({ name: "httpbin", namespace: NS, vips: ["/10.96.0.20"], ports: { 8000: 80 }, ...extra });

function stateWith(workloads: Workload[], services: Service[]): ProxyState {
  const s = new ProxyState();
  s.replaceAll({ workloads: [sleep, ...workloads], services, policies: [] });
  return s;
}

/** A short summary of a route for table comparisons. */
function summary(r: OutboundRoute): string {
  switch (r.kind) {
    case "hbone":
      return `hbone ${r.connect.ip}:${r.connect.port} ${r.authority}${r.waypoint ? " waypoint" : ""}`;
    case "tcp":
      return `tcp ${r.target.ip}:${r.target.port}`;
    case "passthrough":
      return `passthrough ${r.target.ip}:${r.target.port}`;
    case "fail":
      return `fail ${r.reason}`;
  }
}

Deno.test("service VIP: endpoints on two nodes alternate (round robin)", () => {
  const s = stateWith([
    httpbin("h1", "10.244.1.10", { node: "node-a" }),
    httpbin("h2", "10.244.2.10", { node: "node-b" }),
  ], [
    httpbinSvc(),
  ]);
  const lb = new LoadBalancerState();
  const got = Array.from(
    { length: 4 },
    () => summary(routeOutbound(s, sleep, { ip: "10.96.0.20", port: 8000 }, lb)),
  );
  deepEqual(got, [
    "hbone 10.244.1.10:15008 10.244.1.10:80",
    "hbone 10.244.2.10:15008 10.244.2.10:80",
    "hbone 10.244.1.10:15008 10.244.1.10:80",
    "hbone 10.244.2.10:15008 10.244.2.10:80",
  ]);
});

Deno.test("service VIP: capacity 2:1 weights the rotation", () => {
  const s = stateWith([httpbin("h1", "10.244.1.10", { capacity: 2 }), httpbin("h2", "10.244.2.10")], [
    httpbinSvc(),
  ]);
  const lb = new LoadBalancerState();
  const ips = Array.from({ length: 6 }, () => {
    const r = routeOutbound(s, sleep, { ip: "10.96.0.20", port: 8000 }, lb);
    return r.kind === "hbone" ? r.connect.ip : r.kind;
  });
  deepEqual(ips, ["10.244.1.10", "10.244.2.10", "10.244.1.10", "10.244.1.10", "10.244.2.10", "10.244.1.10"]);
});

Deno.test("hbone route carries the workload, the service and the expected identities", () => {
  const svc = httpbinSvc({ subjectAltNames: ["spiffe://cluster.local/ns/ambient-demo/sa/alt"] });
  const h1 = httpbin("h1", "10.244.1.10");
  const s = stateWith([h1], [svc]);
  const r = routeOutbound(s, sleep, { ip: "10.96.0.20", port: 8000 }, new LoadBalancerState());
  deepEqual(r, {
    kind: "hbone",
    connect: { ip: "10.244.1.10", port: 15008 },
    authority: "10.244.1.10:80",
    expectedIdentities: [ID("httpbin"), ID("alt")],
    workload: h1,
    service: svc,
    waypoint: false,
  });
});

Deno.test("outbound routing table", () => {
  const wp = workload({
    name: "waypoint",
    namespace: NS,
    serviceAccount: "waypoint",
    workloadIps: ["10.244.1.50"],
    services: { [`${NS}/waypoint.${NS}.svc.cluster.local`]: {} },
  });
  const wpSvc = service({ name: "waypoint", namespace: NS, vips: ["/10.96.0.50"], ports: { 15008: 15008 } });
  const viaSvcWaypoint = httpbinSvc({ waypoint: hostnameGateway(NS, `waypoint.${NS}.svc.cluster.local`) });
  const cases: Array<
    {
      name: string;
      workloads: Workload[];
      services: Service[];
      src?: Workload;
      dst: [string, number];
      want: string;
    }
  > = [
    {
      name: "unhealthy endpoint skipped",
      workloads: [httpbin("h1", "10.244.1.10", { status: "Unhealthy" }), httpbin("h2", "10.244.2.10")],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 8000],
      want: "hbone 10.244.2.10:15008 10.244.2.10:80",
    },
    {
      name: "unhealthy allowed with AllowAll",
      workloads: [httpbin("h1", "10.244.1.10", { status: "Unhealthy" })],
      services: [
        httpbinSvc({
          loadBalancer: { mode: "UnspecifiedMode", routingPreferences: [], healthPolicy: "AllowAll" },
        }),
      ],
      dst: ["10.96.0.20", 8000],
      want: "hbone 10.244.1.10:15008 10.244.1.10:80",
    },
    {
      name: "no healthy endpoint",
      workloads: [httpbin("h1", "10.244.1.10", { status: "Unhealthy" })],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 8000],
      want: `fail no healthy upstream for service ${HTTPBIN}`,
    },
    {
      name: "no endpoints at all",
      workloads: [],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 8000],
      want: `fail no healthy upstream for service ${HTTPBIN}`,
    },
    {
      name: "endpoint port map wins over the service's",
      workloads: [httpbin("h1", "10.244.1.10", {}, { 8000: 9090 })],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 8000],
      want: "hbone 10.244.1.10:15008 10.244.1.10:9090",
    },
    {
      name: "named target port (0) resolved by the endpoint",
      workloads: [httpbin("h1", "10.244.1.10", {}, { 8000: 8081 })],
      services: [httpbinSvc({ ports: new Map([[8000, 0]]) })],
      dst: ["10.96.0.20", 8000],
      want: "hbone 10.244.1.10:15008 10.244.1.10:8081",
    },
    {
      name: "named target port unresolved → endpoint unusable",
      workloads: [httpbin("h1", "10.244.1.10")],
      services: [httpbinSvc({ ports: new Map([[8000, 0]]) })],
      dst: ["10.96.0.20", 8000],
      want: `fail no healthy upstream for service ${HTTPBIN}`,
    },
    {
      name: "unknown service port",
      workloads: [httpbin("h1", "10.244.1.10")],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 9999],
      want: `fail service port 9999 not found for service ${HTTPBIN}`,
    },
    {
      name: "TCP workload behind a service",
      workloads: [httpbin("h1", "10.244.1.10", { protocol: "TCP" })],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 8000],
      want: "tcp 10.244.1.10:80",
    },
    {
      name: "TCP workload addressed directly",
      workloads: [httpbin("h1", "10.244.1.10", { protocol: "TCP" })],
      services: [],
      dst: ["10.244.1.10", 80],
      want: "tcp 10.244.1.10:80",
    },
    {
      name: "HBONE workload addressed directly keeps the port",
      workloads: [httpbin("h1", "10.244.1.10")],
      services: [httpbinSvc()],
      dst: ["10.244.1.10", 80],
      want: "hbone 10.244.1.10:15008 10.244.1.10:80",
    },
    {
      name: "unknown destination → passthrough",
      workloads: [],
      services: [],
      dst: ["93.184.216.34", 443],
      want: "passthrough 93.184.216.34:443",
    },
    {
      name: "Passthrough load-balancing mode",
      workloads: [httpbin("h1", "10.244.1.10")],
      services: [
        httpbinSvc({
          loadBalancer: { mode: "Passthrough", routingPreferences: [], healthPolicy: "OnlyHealthy" },
        }),
      ],
      dst: ["10.96.0.20", 8000],
      want: "passthrough 10.96.0.20:8000",
    },
    {
      name: "service waypoint by hostname, authority is the VIP",
      workloads: [httpbin("h1", "10.244.1.10"), wp],
      services: [viaSvcWaypoint, wpSvc],
      dst: ["10.96.0.20", 8000],
      want: "hbone 10.244.1.50:15008 10.96.0.20:8000 waypoint",
    },
    {
      name: "workload waypoint by address, authority is the pod",
      workloads: [httpbin("h1", "10.244.1.10", { waypoint: addressGateway("", "10.244.1.50", 15009) }), wp],
      services: [httpbinSvc()],
      dst: ["10.244.1.10", 80],
      want: "hbone 10.244.1.50:15009 10.244.1.10:80 waypoint",
    },
    {
      name: "workload waypoint ignored for service-addressed traffic",
      workloads: [httpbin("h1", "10.244.1.10", { waypoint: addressGateway("", "10.244.1.50") }), wp],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 8000],
      want: "hbone 10.244.1.10:15008 10.244.1.10:80",
    },
    {
      name: "workload waypoint skipped when the source is the waypoint",
      workloads: [
        httpbin("h1", "10.244.1.10", { waypoint: hostnameGateway(NS, `waypoint.${NS}.svc.cluster.local`) }),
        wp,
      ],
      services: [wpSvc],
      src: wp,
      dst: ["10.244.1.10", 80],
      want: "hbone 10.244.1.10:15008 10.244.1.10:80",
    },
    {
      name: "waypoint missing",
      workloads: [httpbin("h1", "10.244.1.10")],
      services: [viaSvcWaypoint],
      dst: ["10.96.0.20", 8000],
      want: `fail no healthy waypoint ${NS}/waypoint.${NS}.svc.cluster.local for 10.96.0.20:8000`,
    },
    {
      name: "self call to a proxy port of a pod",
      workloads: [httpbin("h1", "10.244.1.10")],
      services: [],
      dst: ["10.244.1.10", 15008],
      want: `fail self call: port 15008 of Kubernetes//Pod/${NS}/h1 is a zt proxy port`,
    },
    {
      name: "self call to loopback proxy port",
      workloads: [],
      services: [],
      dst: ["127.0.0.1", 15001],
      want: "fail self call: 127.0.0.1:15001",
    },
    {
      name: "workload on another network is not visible",
      workloads: [httpbin("h1", "10.244.1.10", { network: "remote" })],
      services: [],
      dst: ["10.244.1.10", 80],
      want: "passthrough 10.244.1.10:80",
    },
    {
      name: "IPv6 VIP selects the endpoint's IPv6 address",
      workloads: [httpbin("h1", "10.244.1.10", { workloadIps: ["10.244.1.10", "fd00:10:244::a"] })],
      services: [
        httpbinSvc({
          vips: [{ network: "", address: "10.96.0.20" }, { network: "", address: "fd00:10:96::14" }],
        }),
      ],
      dst: ["FD00:10:96:0::14", 8000],
      want: "hbone fd00:10:244::a:15008 [fd00:10:244::a]:80",
    },
    {
      name: "IPv4 VIP on a dual-stack endpoint selects IPv4",
      workloads: [httpbin("h1", "10.244.1.10", { workloadIps: ["fd00:10:244::a", "10.244.1.10"] })],
      services: [httpbinSvc()],
      dst: ["10.96.0.20", 8000],
      want: "hbone 10.244.1.10:15008 10.244.1.10:80",
    },
    {
      name: "IPv6 pod addressed directly",
      workloads: [httpbin("h1", "fd00:10:244::a")],
      services: [],
      dst: ["fd00:10:244::a", 80],
      want: "hbone fd00:10:244::a:15008 [fd00:10:244::a]:80",
    },
    {
      name: "invalid destination",
      workloads: [],
      services: [],
      dst: ["not-an-ip", 80],
      want: 'fail invalid destination IP "not-an-ip"',
    },
  ];
  for (const c of cases) {
    const s = stateWith(c.workloads, c.services);
    const got = routeOutbound(s, c.src ?? sleep, { ip: c.dst[0], port: c.dst[1] }, new LoadBalancerState());
    equal(summary(got), c.want, c.name);
  }
});

Deno.test("waypoint route expects the waypoint's identity and keeps the addressed service", () => {
  const wp = workload({
    name: "waypoint",
    namespace: NS,
    serviceAccount: "waypoint",
    workloadIps: ["10.244.1.50"],
    services: { [`${NS}/waypoint.${NS}.svc.cluster.local`]: {} },
  });
  const wpSvc = service({ name: "waypoint", namespace: NS, vips: ["/10.96.0.50"], ports: {} });
  const svc = httpbinSvc({ waypoint: addressGateway("", "10.96.0.50") });
  const s = stateWith([httpbin("h1", "10.244.1.10"), wp], [svc, wpSvc]);
  const r = routeOutbound(s, sleep, { ip: "10.96.0.20", port: 8000 }, new LoadBalancerState());
  deepEqual(r, {
    kind: "hbone",
    connect: { ip: "10.244.1.50", port: 15008 },
    authority: "10.96.0.20:8000",
    expectedIdentities: [ID("waypoint")],
    workload: wp,
    service: svc,
    waypoint: true,
  });
});

Deno.test("weighted waypoints rotate by weight", () => {
  const wpA = workload({ name: "wp-a", namespace: NS, workloadIps: ["10.244.1.51"] });
  const wpB = workload({ name: "wp-b", namespace: NS, workloadIps: ["10.244.1.52"] });
  const svc = httpbinSvc({
    weightedWaypoints: [
      { destination: addressGateway("", "10.244.1.51"), weight: 3 },
      { destination: addressGateway("", "10.244.1.52"), weight: 1 },
    ],
  });
  const s = stateWith([httpbin("h1", "10.244.1.10"), wpA, wpB], [svc]);
  const lb = new LoadBalancerState();
  const got = Array.from({ length: 4 }, () => {
    const r = routeOutbound(s, sleep, { ip: "10.96.0.20", port: 8000 }, lb);
    return r.kind === "hbone" ? r.connect.ip.slice(-2) : r.kind;
  });
  deepEqual(got.sort(), ["51", "51", "51", "52"]);
});

Deno.test("Namespace-visible service is passthrough for other namespaces", () => {
  const s = stateWith([httpbin("h1", "10.244.1.10")], [httpbinSvc({ visibility: "Namespace" })]);
  const other = workload({ name: "other", namespace: "elsewhere", workloadIps: ["10.244.1.6"] });
  equal(
    summary(routeOutbound(s, other, { ip: "10.96.0.20", port: 8000 }, new LoadBalancerState())),
    "passthrough 10.96.0.20:8000",
  );
  equal(
    summary(routeOutbound(s, sleep, { ip: "10.96.0.20", port: 8000 }, new LoadBalancerState())),
    "hbone 10.244.1.10:15008 10.244.1.10:80",
  );
});

Deno.test("Failover prefers endpoints on the source's node", () => {
  const lb = {
    mode: "Failover" as const,
    routingPreferences: ["Node" as const],
    healthPolicy: "OnlyHealthy" as const,
  };
  const s = stateWith([
    httpbin("h1", "10.244.1.10", { node: "node-b" }),
    httpbin("h2", "10.244.2.10", { node: "node-a" }),
  ], [
    httpbinSvc({ loadBalancer: lb }),
  ]);
  const cursor = new LoadBalancerState();
  for (let i = 0; i < 3; i++) {
    equal(
      summary(routeOutbound(s, sleep, { ip: "10.96.0.20", port: 8000 }, cursor)),
      "hbone 10.244.2.10:15008 10.244.2.10:80",
    );
  }
});
