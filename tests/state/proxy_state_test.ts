import { deepEqual, equal } from "node:assert/strict";
import type { Authorization } from "../../lib/policy/model.ts";
import { ProxyState, type StateChange } from "../../lib/state/proxy_state.ts";
import { ports, service, workload } from "./fixtures.ts";

const SVC = "ns1/web.ns1.svc.cluster.local";

function policy(namespace: string, name: string): Authorization {
  return { name, namespace, scope: "Namespace", action: "Allow", rules: [], dryRun: false };
}

Deno.test("lookups answer from the workload and service indexes", () => {
  const s = new ProxyState();
  const a = workload({
    name: "a",
    workloadIps: ["10.0.0.1"],
    network: "n1",
    services: { [SVC]: { 80: 8080 } },
  });
  const web = service({ name: "web", namespace: "ns1", vips: ["n1/10.96.0.1"], ports: { 80: 8080 } });
  s.upsertWorkload(a);
  s.upsertService(web);
  equal(s.workload(a.uid), a);
  equal(s.workloadByIp("n1", "10.0.0.1"), a);
  deepEqual(s.workloadsWithIp("10.0.0.1"), [a]);
  equal(s.service(SVC), web);
  equal(s.serviceByAddress("n1", "10.96.0.1"), web);
  deepEqual(s.servicesByHostname("web.ns1.svc.cluster.local"), [web]);
  deepEqual(s.endpoints(SVC), [{ workload: a, ports: ports({ 80: 8080 }) }]);
  deepEqual(s.allWorkloads(), [a]);
  deepEqual(s.allServices(), [web]);
  equal(
    s.findByInfo("node-a", { name: a.name, namespace: a.namespace, serviceAccount: a.serviceAccount }),
    a,
  );
  equal(
    s.findByInfo("node-b", { name: a.name, namespace: a.namespace, serviceAccount: a.serviceAccount }),
    undefined,
  );
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

Deno.test("allPolicies sorts by key", () => {
  const s = new ProxyState();
  s.upsertPolicy(policy("b", "x"));
  s.upsertPolicy(policy("a", "y"));
  deepEqual(s.allPolicies().map((p) => `${p.namespace}/${p.name}`), ["a/y", "b/x"]);
});
