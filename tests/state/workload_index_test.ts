import { deepEqual, equal } from "node:assert/strict";
import { WorkloadIndex } from "../../lib/state/workload_index.ts";
import { ports, workload } from "./fixtures.ts";

const SVC = "ns1/web.ns1.svc.cluster.local";

Deno.test("workloads are indexed by uid and network/ip; HostNetwork ones are not indexed by IP", () => {
  const x = new WorkloadIndex();
  const a = workload({ name: "a", workloadIps: ["10.0.0.1", "fd00::1"], network: "n1" });
  const h = workload({ name: "h", workloadIps: ["192.168.1.10"], networkMode: "HostNetwork" });
  x.set(a);
  x.set(h);
  equal(x.get(a.uid), a);
  equal(x.byAddress("n1", "10.0.0.1"), a);
  equal(x.byAddress("n1", "fd00::1"), a);
  equal(x.byAddress("", "10.0.0.1"), undefined);
  equal(x.byAddress("", "192.168.1.10"), undefined);
  equal(x.get(h.uid), h);
  deepEqual(x.withIp("10.0.0.1"), [a]);
  deepEqual(x.withIp("192.168.1.10"), []);
});

Deno.test("re-setting a workload drops its old IPs and endpoints", () => {
  const x = new WorkloadIndex();
  x.set(workload({ name: "a", workloadIps: ["10.0.0.1"], services: { [SVC]: { 80: 8080 } } }));
  const moved = workload({ name: "a", workloadIps: ["10.0.0.2"] });
  x.set(moved);
  equal(x.byAddress("", "10.0.0.1"), undefined);
  equal(x.byAddress("", "10.0.0.2"), moved);
  deepEqual(x.endpoints(SVC), []);
  deepEqual(x.withIp("10.0.0.1"), []);
});

Deno.test("endpoints are sorted by uid and disappear with their workload", () => {
  const x = new WorkloadIndex();
  const b = workload({ name: "b", workloadIps: ["10.0.0.2"], services: { [SVC]: {} } });
  const a = workload({ name: "a", workloadIps: ["10.0.0.1"], services: { [SVC]: {} } });
  x.set(b);
  x.set(a);
  deepEqual(x.endpoints(SVC).map((e) => e.workload.name), ["a", "b"]);
  equal(x.delete(a.uid), true);
  equal(x.delete(a.uid), false);
  deepEqual(x.endpoints(SVC).map((e) => e.workload.name), ["b"]);
  deepEqual(x.all().map((w) => w.name), ["b"]);
});

Deno.test("endpoints reflect workload updates after being read", () => {
  const x = new WorkloadIndex();
  const a = workload({ name: "a", workloadIps: ["10.0.0.1"], services: { [SVC]: { 80: 8080 } } });
  x.set(a);
  equal(x.endpoints(SVC)[0].workload.status, "Healthy");
  x.set({ ...a, status: "Unhealthy" });
  equal(x.endpoints(SVC)[0].workload.status, "Unhealthy");
  x.set({ ...a, services: new Map([[SVC, ports({ 80: 9090 })]]) });
  deepEqual(x.endpoints(SVC)[0].ports, ports({ 80: 9090 }));
});

Deno.test("endpointsOfUnknown copies the endpoints of the service keys not known", () => {
  const x = new WorkloadIndex();
  const other = "ns1/other.ns1.svc.cluster.local";
  const a = workload({ name: "a", services: { [SVC]: { 80: 8080 }, [other]: { 81: 81 } } });
  x.set(a);
  const staged = x.endpointsOfUnknown((key) => key === other);
  deepEqual([...staged.keys()], [SVC]);
  deepEqual(staged.get(SVC), new Map([[a.uid, ports({ 80: 8080 })]]));
  staged.get(SVC)!.clear();
  equal(x.endpoints(SVC).length, 1, "a copy: clearing it leaves the index alone");
  x.clear();
  equal(x.endpointsOfUnknown(() => false).size, 0);
  equal(x.get(a.uid), undefined);
});
