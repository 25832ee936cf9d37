/** A small mesh in a real ProxyState, shared by the config_dump and proxy-config tests. */
import { ProxyState } from "../../lib/state/proxy_state.ts";
import type { Authorization } from "../../lib/policy/model.ts";
import { emptyMatch } from "../../lib/policy/model.ts";
import type { ConfigDumpSource } from "../../lib/admin/config_dump.ts";
import { hostnameGateway, service, workload } from "../state/fixtures.ts";

export const SLEEP = workload({
  name: "sleep-7656cf8794-lxcmx",
  namespace: "ambient-demo",
  workloadIps: ["10.244.2.58"],
  node: "amb1-worker2",
  serviceAccount: "sleep",
  workloadName: "sleep",
  canonicalName: "sleep",
  labels: { app: "sleep" },
  services: { "ambient-demo/sleep.ambient-demo.svc.cluster.local": { 80: 80 } },
});

export const HTTPBIN = workload({
  name: "httpbin-648cd984f8-2q9bn",
  namespace: "ambient-demo",
  workloadIps: ["10.240.1.5"],
  node: "amb1-worker",
  serviceAccount: "httpbin",
  workloadName: "httpbin",
  canonicalName: "httpbin",
  canonicalRevision: "v1",
  waypoint: hostnameGateway("ambient-demo", "waypoint.ambient-demo.svc.cluster.local"),
  authorizationPolicies: ["ambient-demo/allow-sleep"],
  locality: { region: "eu", zone: "eu-1", subzone: "" },
  status: "Unhealthy",
  services: { "ambient-demo/httpbin.ambient-demo.svc.cluster.local": { 8000: 8080 } },
});

export const WAYPOINT = workload({
  name: "waypoint-5cdd6745d5-rc2gg",
  namespace: "ambient-demo",
  workloadIps: ["10.240.1.9"],
  node: "amb1-worker",
  protocol: "TCP",
  workloadName: "waypoint",
  canonicalName: "waypoint",
  nativeTunnel: true,
  applicationTunnel: { protocol: "PROXY", port: 15088 },
  services: { "ambient-demo/waypoint.ambient-demo.svc.cluster.local": { 15008: 15008 } },
});

/** An endpoint of a service istiod has not sent yet. */
export const EARLY = workload({
  name: "early-1",
  namespace: "late",
  workloadIps: ["10.240.3.3"],
  services: { "late/later.late.svc.cluster.local": { 90: 9090 } },
});

export const HTTPBIN_SVC = service({
  name: "httpbin",
  namespace: "ambient-demo",
  vips: ["/10.96.0.20", "net2/10.1.0.0/16"],
  ports: { 8000: 8080, 80: 8080 },
  subjectAltNames: ["spiffe://cluster.local/ns/ambient-demo/sa/httpbin"],
  waypoint: hostnameGateway("ambient-demo", "waypoint.ambient-demo.svc.cluster.local"),
  loadBalancer: {
    routingPreferences: ["Network", "Region"],
    mode: "UnspecifiedMode",
    healthPolicy: "AllowAll",
  },
  ipFamilies: "IPv4Only",
});
export const SLEEP_SVC = service({
  name: "sleep",
  namespace: "ambient-demo",
  vips: ["/10.96.0.30"],
  ports: { 80: 80 },
});
export const WAYPOINT_SVC = service({
  name: "waypoint",
  namespace: "ambient-demo",
  vips: ["/10.96.0.40"],
  ports: { 15008: 15008 },
});

export const POLICY: Authorization = {
  name: "allow-sleep",
  namespace: "ambient-demo",
  scope: "WorkloadSelector",
  action: "Allow",
  rules: [[[{
    ...emptyMatch(),
    principals: [{ kind: "exact", value: "cluster.local/ns/ambient-demo/sa/sleep" }],
  }]]],
  dryRun: false,
};
export const DENY_ALL: Authorization = {
  name: "deny-all",
  namespace: "kube-system",
  scope: "Namespace",
  action: "Deny",
  rules: [],
  dryRun: true,
};

export function sampleState(): ProxyState {
  const s = new ProxyState();
  for (const w of [WAYPOINT, SLEEP, HTTPBIN, EARLY]) s.upsertWorkload(w);
  for (const svc of [WAYPOINT_SVC, SLEEP_SVC, HTTPBIN_SVC]) s.upsertService(svc);
  s.upsertPolicy(DENY_ALL);
  s.upsertPolicy(POLICY);
  return s;
}

export function sampleSource(state: ProxyState, certificates: unknown[] = []): ConfigDumpSource {
  return {
    workloads: state.allWorkloads(),
    services: state.allServices(),
    endpoints: (key) => state.endpoints(key),
    stagedServices: state.stagedServices(),
    policies: state.allPolicies(),
    certificates,
    config: { proxyMode: "Shared", windowSize: 4194304, extra: new Map([["a", 1]]) },
    version: { version: "0.1.0", istioVersion: "1.24.0" },
  };
}
