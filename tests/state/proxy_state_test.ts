import { deepEqual, equal } from "node:assert/strict";
import type { Authorization } from "../../lib/policy/model.ts";
import { ProxyState, type StateChange } from "../../lib/state/proxy_state.ts";
import { ports, service, workload } from "./fixtures.ts";

const SVC = "ns1/web.ns1.svc.cluster.local";

function policy(namespace: string, name: string): Authorization {
  return { name, namespace, scope: "Namespace", action: "Allow", rules: [], dryRun: false };
}

Deno.test("workloads are indexed by uid and network/ip; HostNetwork ones are not indexed by IP", () => {
  const s = new ProxyState();
  const a = workload({ name: "a", workloadIps: ["10.0.0.1", "fd00::1"], network: "n1" });
  const h = workload({ name: "h", workloadIps: ["192.168.1.10"], networkMode: "HostNetwork" });
  s.upsertWorkload(a);
  s.upsertWorkload(h);
  equal(s.workload(a.uid), a);
  equal(s.workloadByIp("n1", "10.0.0.1"), a);
  equal(s.workloadByIp("n1", "fd00::1"), a);
  equal(s.workloadByIp("", "10.0.0.1"), undefined);
  equal(s.workloadByIp("", "192.168.1.10"), undefined);
  equal(s.workload(h.uid), h);
  deepEqual(s.workloadsWithIp("10.0.0.1"), [a]);
});

Deno.test("re-upserting a workload drops its old IPs and endpoints", () => {
  const s = new ProxyState();
  s.upsertWorkload(workload({ name: "a", workloadIps: ["10.0.0.1"], services: { [SVC]: { 80: 8080 } } }));
  const moved = workload({ name: "a", workloadIps: ["10.0.0.2"] });
  s.upsertWorkload(moved);
  equal(s.workloadByIp("", "10.0.0.1"), undefined);
  equal(s.workloadByIp("", "10.0.0.2"), moved);
  deepEqual(s.endpoints(SVC), []);
  deepEqual(s.workloadsWithIp("10.0.0.1"), []);
});

Deno.test("endpoints for an unknown service are staged and attach when it arrives", () => {
  const s = new ProxyState();
  const a = workload({ name: "a", workloadIps: ["10.0.0.1"], services: { [SVC]: { 80: 8080 } } });
  s.upsertWorkload(a);
  deepEqual([...s.stagedServices().keys()], [SVC]);
  deepEqual(s.stagedServices().get(SVC), new Map([[a.uid, ports({ 80: 8080 })]]));
  s.upsertService(service({ name: "web", namespace: "ns1", vips: ["/10.96.0.1"], ports: { 80: 8080 } }));
  equal(s.stagedServices().size, 0);
  deepEqual(s.endpoints(SVC), [{ workload: a, ports: ports({ 80: 8080 }) }]);
  s.removeService(SVC);
  deepEqual([...s.stagedServices().keys()], [SVC]);
});

Deno.test("endpoints are sorted by uid and disappear with their workload", () => {
  const s = new ProxyState();
  const b = workload({ name: "b", workloadIps: ["10.0.0.2"], services: { [SVC]: {} } });
  const a = workload({ name: "a", workloadIps: ["10.0.0.1"], services: { [SVC]: {} } });
  s.upsertWorkload(b);
  s.upsertWorkload(a);
  deepEqual(s.endpoints(SVC).map((e) => e.workload.name), ["a", "b"]);
  equal(s.removeWorkload(a.uid), true);
  equal(s.removeWorkload(a.uid), false);
  deepEqual(s.endpoints(SVC).map((e) => e.workload.name), ["b"]);
});

Deno.test("serviceByAddress: exact VIP before CIDR, longest prefix, namespace and canonical preference", () => {
  const s = new ProxyState();
  const wide = service({ name: "wide", namespace: "x", vips: ["/10.96.0.0/12"] });
  const narrow = service({ name: "narrow", namespace: "x", vips: ["/10.96.1.0/24"] });
  const exact = service({ name: "exact", namespace: "x", vips: ["/10.96.1.5"] });
  const mine = service({ name: "shared", namespace: "client", vips: ["/10.96.2.2"], canonical: false });
  const canonical = service({ name: "shared", namespace: "other", vips: ["/10.96.2.2"], canonical: true });
  const plain = service({ name: "shared", namespace: "zzz", vips: ["/10.96.2.2"], canonical: false });
  for (const svc of [wide, narrow, exact, mine, canonical, plain]) s.upsertService(svc);
  const cases: Array<[string, string, string | undefined, string | undefined]> = [
    ["", "10.96.1.5", undefined, "exact"],
    ["", "10.96.1.6", undefined, "narrow"],
    ["", "10.100.0.1", undefined, "wide"],
    ["", "10.200.0.1", undefined, undefined],
    ["other-net", "10.96.1.5", undefined, undefined],
    ["", "10.96.2.2", "client", "client/shared"],
    ["", "10.96.2.2", "elsewhere", "other/shared"],
    ["", "10.96.2.2", undefined, "other/shared"],
  ];
  for (const [net, ip, ns, want] of cases) {
    const got = s.serviceByAddress(net, ip, ns);
    const name = got && (want?.includes("/") ? `${got.namespace}/${got.name}` : got.name);
    equal(name, want, `${net}/${ip} from ${ns}`);
  }
});

Deno.test("serviceByAddress hides Namespace-visible services from other namespaces", () => {
  const s = new ProxyState();
  s.upsertService(
    service({ name: "private", namespace: "a", vips: ["/10.96.0.9"], visibility: "Namespace" }),
  );
  s.upsertService(service({ name: "cidr", namespace: "b", vips: ["/10.96.0.0/24"] }));
  equal(s.serviceByAddress("", "10.96.0.9", "a")?.name, "private");
  equal(s.serviceByAddress("", "10.96.0.9", "b")?.name, "cidr");
  equal(s.serviceByAddress("", "10.96.0.9")?.name, "cidr");
  deepEqual(s.servicesByHostname("private.a.svc.cluster.local", "b"), []);
  equal(s.servicesByHostname("private.a.svc.cluster.local", "a").length, 1);
});

Deno.test("removing a service removes its VIP and CIDR entries", () => {
  const s = new ProxyState();
  s.upsertService(service({ name: "web", namespace: "ns1", vips: ["/10.96.0.1", "/10.97.0.0/16"] }));
  equal(s.serviceByAddress("", "10.97.3.3")?.name, "web");
  equal(s.removeService(SVC), true);
  equal(s.serviceByAddress("", "10.96.0.1"), undefined);
  equal(s.serviceByAddress("", "10.97.3.3"), undefined);
  equal(s.removeService(SVC), false);
});

Deno.test("remove(name) tries workload uid, then service key, then policy key", () => {
  const s = new ProxyState();
  const w = workload({ name: "a", workloadIps: ["10.0.0.1"] });
  s.upsertWorkload(w);
  s.upsertService(service({ name: "web", namespace: "ns1" }));
  s.upsertPolicy(policy("ns1", "allow"));
  equal(s.remove(w.uid), true);
  equal(s.workload(w.uid), undefined);
  equal(s.remove(SVC), true);
  equal(s.service(SVC), undefined);
  equal(s.remove("ns1/allow"), true);
  equal(s.policy("ns1/allow"), undefined);
  equal(s.remove("nothing"), false);
});

Deno.test("replaceAll replaces everything with one change", () => {
  const s = new ProxyState();
  s.upsertWorkload(workload({ name: "old", workloadIps: ["10.0.0.1"], services: { [SVC]: {} } }));
  s.upsertPolicy(policy("ns1", "old"));
  const changes: StateChange[] = [];
  s.onChange((c) => changes.push(c));
  const before = s.version;
  const fresh = workload({ name: "new", workloadIps: ["10.0.0.2"], node: "node-b" });
  s.replaceAll({
    workloads: [fresh],
    services: [service({ name: "web", namespace: "ns1" })],
    policies: [policy("ns1", "new")],
  });
  deepEqual(changes, [{ kind: "all" }]);
  equal(s.version, before + 1);
  deepEqual(s.allWorkloads(), [fresh]);
  equal(s.workloadByIp("", "10.0.0.1"), undefined);
  deepEqual(s.endpoints(SVC), []);
  deepEqual(s.allPolicies().map((p) => p.name), ["new"]);
  deepEqual(s.localWorkloads("node-b"), [fresh]);
  deepEqual(s.localWorkloads("node-a"), []);
});

Deno.test("version and onChange track every change; unsubscribe stops notifications", () => {
  const s = new ProxyState();
  const kinds: string[] = [];
  const off = s.onChange((c) => kinds.push(c.kind));
  s.upsertWorkload(workload({ name: "a", workloadIps: ["10.0.0.1"] }));
  s.upsertService(service({ name: "web", namespace: "ns1" }));
  s.upsertPolicy(policy("ns1", "p"));
  equal(s.removePolicy("ns1/missing"), false);
  s.removePolicy("ns1/p");
  deepEqual(kinds, ["workload", "service", "policy", "policy"]);
  equal(s.version, 4);
  off();
  s.removeService(SVC);
  equal(kinds.length, 4);
  equal(s.version, 5);
});

Deno.test("allServices sorts by hostname; allPolicies by key", () => {
  const s = new ProxyState();
  s.upsertService(service({ name: "zeta", namespace: "a" }));
  s.upsertService(service({ name: "alpha", namespace: "b" }));
  s.upsertPolicy(policy("b", "x"));
  s.upsertPolicy(policy("a", "y"));
  deepEqual(s.allServices().map((x) => x.name), ["alpha", "zeta"]);
  deepEqual(s.allPolicies().map((p) => `${p.namespace}/${p.name}`), ["a/y", "b/x"]);
});

Deno.test("endpoints reflect workload updates after being read", () => {
  const s = new ProxyState();
  const a = workload({ name: "a", workloadIps: ["10.0.0.1"], services: { [SVC]: { 80: 8080 } } });
  s.upsertWorkload(a);
  equal(s.endpoints(SVC)[0].workload.status, "Healthy");
  s.upsertWorkload({ ...a, status: "Unhealthy" });
  equal(s.endpoints(SVC)[0].workload.status, "Unhealthy");
  s.upsertWorkload({ ...a, services: new Map([[SVC, ports({ 80: 9090 })]]) });
  deepEqual(s.endpoints(SVC)[0].ports, ports({ 80: 9090 }));
});
