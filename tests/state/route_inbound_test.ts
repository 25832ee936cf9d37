import { deepEqual, equal } from "node:assert/strict";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { routeInbound } from "../../lib/state/route_inbound.ts";
import { workload } from "./fixtures.ts";

const local = workload({ name: "httpbin", workloadIps: ["10.244.1.10", "fd00::a"], node: "node-a" });
const remote = workload({ name: "other", workloadIps: ["10.244.2.10"], node: "node-b" });

function state(): ProxyState {
  const s = new ProxyState();
  s.replaceAll({ workloads: [local, remote], services: [], policies: [] });
  return s;
}

Deno.test("inbound: a local pod's authority is accepted with the pod as target", () => {
  deepEqual(routeInbound(state(), "10.244.1.10", "10.244.1.10:80", "node-a"), {
    kind: "ok",
    workload: local,
    target: { ip: "10.244.1.10", port: 80 },
  });
  deepEqual(routeInbound(state(), "fd00:0::a", "[fd00::a]:8080", "node-a"), {
    kind: "ok",
    workload: local,
    target: { ip: "fd00::a", port: 8080 },
  });
  deepEqual(routeInbound(state(), "::ffff:10.244.1.10", "10.244.1.10:80", "node-a").kind, "ok");
});

Deno.test("inbound: rejections", () => {
  const cases: Array<[string, string, string, number, string]> = [
    ["10.244.1.10", "10.244.1.10", "node-a", 400, 'malformed authority "10.244.1.10"'],
    ["10.244.1.10", "httpbin:80", "node-a", 400, 'malformed authority "httpbin:80"'],
    ["10.244.1.10", "10.244.1.10:0", "node-a", 400, 'malformed authority "10.244.1.10:0"'],
    [
      "10.244.1.10",
      "10.244.1.11:80",
      "node-a",
      400,
      "authority 10.244.1.11:80 does not match destination 10.244.1.10",
    ],
    ["10.244.2.10", "10.244.2.10:80", "node-a", 400, "authority 10.244.2.10:80 is not a local pod"],
    ["10.244.9.9", "10.244.9.9:80", "node-a", 503, "authority 10.244.9.9:80 is not a local pod"],
    [
      "10.244.1.10",
      "10.244.1.10:15008",
      "node-a",
      400,
      "authority 10.244.1.10:15008 targets a zt proxy port",
    ],
    [
      "10.244.1.10",
      "10.244.1.10:15001",
      "node-a",
      400,
      "authority 10.244.1.10:15001 targets a zt proxy port",
    ],
    [
      "10.244.1.10",
      "10.244.1.10:15006",
      "node-a",
      400,
      "authority 10.244.1.10:15006 targets a zt proxy port",
    ],
    [
      "10.244.1.10",
      "10.244.1.10:15080",
      "node-a",
      400,
      "authority 10.244.1.10:15080 targets a zt proxy port",
    ],
  ];
  for (const [localIp, authority, node, status, reason] of cases) {
    deepEqual(routeInbound(state(), localIp, authority, node), { kind: "reject", status, reason }, authority);
  }
});

Deno.test("inbound: HostNetwork workloads are not inbound targets", () => {
  const s = new ProxyState();
  s.upsertWorkload(workload({ name: "hn", workloadIps: ["192.168.0.5"], networkMode: "HostNetwork" }));
  equal(routeInbound(s, "192.168.0.5", "192.168.0.5:80", "node-a").kind, "reject");
});
