import { deepEqual, equal } from "node:assert/strict";
import { ServiceIndex } from "../../lib/state/service_index.ts";
import { service } from "./fixtures.ts";

const SVC = "ns1/web.ns1.svc.cluster.local";

Deno.test("byAddress: exact VIP before CIDR, longest prefix, namespace and canonical preference", () => {
  const x = new ServiceIndex();
  const wide = service({ name: "wide", namespace: "x", vips: ["/10.96.0.0/12"] });
  const narrow = service({ name: "narrow", namespace: "x", vips: ["/10.96.1.0/24"] });
  const exact = service({ name: "exact", namespace: "x", vips: ["/10.96.1.5"] });
  const mine = service({ name: "shared", namespace: "client", vips: ["/10.96.2.2"], canonical: false });
  const canonical = service({ name: "shared", namespace: "other", vips: ["/10.96.2.2"], canonical: true });
  const plain = service({ name: "shared", namespace: "zzz", vips: ["/10.96.2.2"], canonical: false });
  for (const svc of [wide, narrow, exact, mine, canonical, plain]) x.set(svc);
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
    const got = x.byAddress(net, ip, ns);
    const name = got && (want?.includes("/") ? `${got.namespace}/${got.name}` : got.name);
    equal(name, want, `${net}/${ip} from ${ns}`);
  }
});

Deno.test("byAddress and byHostname hide Namespace-visible services from other namespaces", () => {
  const x = new ServiceIndex();
  x.set(service({ name: "private", namespace: "a", vips: ["/10.96.0.9"], visibility: "Namespace" }));
  x.set(service({ name: "cidr", namespace: "b", vips: ["/10.96.0.0/24"] }));
  equal(x.byAddress("", "10.96.0.9", "a")?.name, "private");
  equal(x.byAddress("", "10.96.0.9", "b")?.name, "cidr");
  equal(x.byAddress("", "10.96.0.9")?.name, "cidr");
  deepEqual(x.byHostname("private.a.svc.cluster.local", "b"), []);
  equal(x.byHostname("private.a.svc.cluster.local", "a").length, 1);
});

Deno.test("deleting a service removes its VIP, CIDR and hostname entries; re-setting replaces them", () => {
  const x = new ServiceIndex();
  x.set(service({ name: "web", namespace: "ns1", vips: ["/10.96.0.1", "/10.97.0.0/16"] }));
  equal(x.byAddress("", "10.97.3.3")?.name, "web");
  x.set(service({ name: "web", namespace: "ns1", vips: ["/10.98.0.1"] }));
  equal(x.byAddress("", "10.96.0.1"), undefined);
  equal(x.byAddress("", "10.97.3.3"), undefined);
  equal(x.byAddress("", "10.98.0.1")?.name, "web");
  equal(x.byHostname("web.ns1.svc.cluster.local", "ns1").length, 1);
  equal(x.delete(SVC), true);
  equal(x.has(SVC), false);
  equal(x.byAddress("", "10.98.0.1"), undefined);
  deepEqual(x.byHostname("web.ns1.svc.cluster.local", "ns1"), []);
  equal(x.delete(SVC), false);
});

Deno.test("all sorts by hostname", () => {
  const x = new ServiceIndex();
  x.set(service({ name: "zeta", namespace: "a" }));
  x.set(service({ name: "alpha", namespace: "b" }));
  deepEqual(x.all().map((s) => s.name), ["alpha", "zeta"]);
  x.clear();
  deepEqual(x.all(), []);
});
