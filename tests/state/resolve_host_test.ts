import { deepEqual, equal } from "node:assert/strict";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { resolveMeshHost, searchNames } from "../../lib/state/resolve_host.ts";
import { service, workload } from "./fixtures.ts";

function state(): ProxyState {
  const s = new ProxyState();
  s.upsertService(
    service({ name: "httpbin", namespace: "ambient-demo", vips: ["/fd00::20", "/10.96.0.20"] }),
  );
  s.upsertService(service({ name: "httpbin", namespace: "other", vips: ["/10.96.0.30"] }));
  s.upsertService(service({ name: "headless", namespace: "ambient-demo", vips: [] }));
  s.upsertService(service({ name: "cidr-only", namespace: "ambient-demo", vips: ["/10.97.0.0/16"] }));
  s.upsertService(
    service({ name: "ext", namespace: "ambient-demo", hostname: "api.example.com", vips: ["/240.240.0.1"] }),
  );
  s.upsertWorkload(workload({
    name: "hl",
    namespace: "ambient-demo",
    workloadIps: ["10.244.1.77"],
    services: { "ambient-demo/headless.ambient-demo.svc.cluster.local": {} },
  }));
  return s;
}

Deno.test("resolveMeshHost: Kubernetes short forms relative to the client namespace", () => {
  const cases: Array<[string, string, string | undefined]> = [
    ["httpbin", "ambient-demo", "ambient-demo 10.96.0.20"],
    ["httpbin", "other", "other 10.96.0.30"],
    ["httpbin.ambient-demo", "other", "ambient-demo 10.96.0.20"],
    ["httpbin.ambient-demo.svc", "other", "ambient-demo 10.96.0.20"],
    ["httpbin.ambient-demo.svc.cluster.local", "other", "ambient-demo 10.96.0.20"],
    ["httpbin.ambient-demo.svc.cluster.local.", "other", "ambient-demo 10.96.0.20"],
    ["HTTPBIN.Ambient-Demo", "other", "ambient-demo 10.96.0.20"],
    ["httpbin", "nowhere", undefined],
    ["api.example.com", "x", "ambient-demo 240.240.0.1"],
    ["headless", "ambient-demo", "ambient-demo 10.244.1.77"],
    ["cidr-only", "ambient-demo", undefined],
    ["", "ambient-demo", undefined],
  ];
  const s = state();
  for (const [name, ns, want] of cases) {
    const got = resolveMeshHost(s, name, ns);
    equal(got && `${got.service.namespace} ${got.ip}`, want, `${name} from ${ns}`);
  }
});

Deno.test("resolveMeshHost honours a custom cluster domain", () => {
  const s = new ProxyState();
  s.upsertService(
    service({ name: "web", namespace: "a", hostname: "web.a.svc.corp.internal", vips: ["/10.96.1.1"] }),
  );
  equal(resolveMeshHost(s, "web.a", "b", "corp.internal")?.ip, "10.96.1.1");
  equal(resolveMeshHost(s, "web.a", "b"), undefined);
});

Deno.test("searchNames follows the resolv.conf search path", () => {
  deepEqual(searchNames("httpbin", "ns"), [
    "httpbin.ns.svc.cluster.local",
    "httpbin.svc.cluster.local",
    "httpbin.cluster.local",
    "httpbin",
  ]);
  deepEqual(searchNames("a.b.svc.cluster.local.", "ns"), ["a.b.svc.cluster.local"]);
});
