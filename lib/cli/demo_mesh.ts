/** The demo's mesh: Istio's ambient L4 guide topology, as a ztunnel local config. */

/** A pod of the guide: who it is, where it runs, and (in-pod mode) its network namespace file. */
export interface DemoPod {
  readonly name: string;
  readonly app: string;
  readonly sa: string;
  readonly ip: string;
  readonly node: string;
  /** `netns:` (a zt extension): the pod's namespace file, for `zt cni` (in-pod mode only). */
  readonly netns?: string;
}

/** The loopback demo's nodes and pods, each on its own 127.x address. */
export const DEMO_NODES = [
  { name: "node-a", ip: "127.10.0.1" },
  { name: "node-b", ip: "127.20.0.1" },
] as const;

export const DEMO_PODS: readonly DemoPod[] = [
  { name: "sleep", app: "sleep", sa: "sleep", ip: "127.10.1.1", node: "node-a" },
  { name: "notsleep", app: "notsleep", sa: "notsleep", ip: "127.10.1.2", node: "node-a" },
  { name: "httpbin-1", app: "httpbin", sa: "httpbin", ip: "127.10.1.3", node: "node-a" },
  { name: "httpbin-2", app: "httpbin", sa: "httpbin", ip: "127.20.1.3", node: "node-b" },
];

export const HTTPBIN_HOST = "httpbin.ambient-demo.svc.cluster.local";

export function demoMesh(pods: readonly DemoPod[] = DEMO_PODS) {
  return {
    namespaces: [{ name: "ambient-demo", labels: { "istio.io/dataplane-mode": "ambient" } }],
    workloads: pods.map((p) => ({
      uid: `Kubernetes//Pod/ambient-demo/${p.name}`,
      name: p.name,
      namespace: "ambient-demo",
      serviceAccount: p.sa,
      workloadIps: [p.ip],
      protocol: "HBONE",
      node: p.node,
      workloadName: p.app,
      canonicalName: p.app,
      canonicalRevision: "v1",
      labels: { app: p.app, version: "v1" },
      services: p.app === "httpbin" ? { [`ambient-demo/${HTTPBIN_HOST}`]: { 8000: 8080 } } : undefined,
      netns: p.netns,
    })).map((w) => Object.fromEntries(Object.entries(w).filter(([, v]) => v !== undefined))),
    services: [{
      name: "httpbin",
      namespace: "ambient-demo",
      hostname: HTTPBIN_HOST,
      vips: ["/10.96.0.20"],
      ports: { 8000: 8080 },
    }],
  };
}
