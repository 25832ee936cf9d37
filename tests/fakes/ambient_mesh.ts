/**
 * The ambient guide's mesh for tests/integration/capture_test.ts: its pods (who runs where, with which
 * address and identity) and the mesh config zt nodes read, with the guide's policies switched in.
 * ambient-demo is labelled ambient; client-a is not in the mesh; client-b has sidecars (and, the
 * guide's conflict case, the ambient label too: the sidecar wins).
 */
import { stringify } from "yaml";

export interface PodDef {
  readonly short: string;
  readonly name: string;
  readonly namespace: string;
  readonly sa: string;
  readonly app: string;
  readonly ip: string;
  readonly node: 0 | 1;
  /** Listed in the mesh config. */
  readonly inMesh: boolean;
  /** Port of the named HTTP server it runs. */
  readonly serve?: number;
}

export const NODE_NAMES = ["node-a", "node-b"] as const;

export const PODS: readonly PodDef[] = [
  {
    short: "sleep",
    name: "sleep",
    namespace: "ambient-demo",
    sa: "sleep",
    app: "sleep",
    ip: "10.250.1.10",
    node: 0,
    inMesh: true,
  },
  {
    short: "notsleep",
    name: "notsleep",
    namespace: "ambient-demo",
    sa: "notsleep",
    app: "notsleep",
    ip: "10.250.1.11",
    node: 0,
    inMesh: true,
  },
  {
    short: "httpbin-1",
    name: "httpbin-1",
    namespace: "ambient-demo",
    sa: "httpbin",
    app: "httpbin",
    ip: "10.250.1.12",
    node: 0,
    inMesh: true,
    serve: 80,
  },
  {
    short: "httpbin-2",
    name: "httpbin-2",
    namespace: "ambient-demo",
    sa: "httpbin",
    app: "httpbin",
    ip: "10.250.2.12",
    node: 1,
    inMesh: true,
    serve: 80,
  },
  {
    short: "legacy",
    name: "sleep",
    namespace: "client-a",
    sa: "sleep",
    app: "sleep",
    ip: "10.250.1.20",
    node: 0,
    inMesh: true,
  },
  {
    short: "side",
    name: "sleep",
    namespace: "client-b",
    sa: "sleep",
    app: "sleep",
    ip: "10.250.1.30",
    node: 0,
    inMesh: true,
  },
  {
    short: "web",
    name: "web",
    namespace: "client-a",
    sa: "web",
    app: "web",
    ip: "10.250.2.20",
    node: 1,
    inMesh: false,
    serve: 8080,
  },
];

export const VIP = "10.96.250.10";
export const HTTPBIN = "httpbin.ambient-demo.svc.cluster.local";
export const spiffeId = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

export interface MeshOptions {
  policy?: "allow-sleep" | "allow-sleep-get";
  peerAuth?: "STRICT" | "PERMISSIVE";
  notsleepRedirection?: "disabled";
}

export function meshYaml(o: MeshOptions = {}): string {
  const workloads = PODS.filter((p) => p.inMesh).map((p) => ({
    uid: `Kubernetes//Pod/${p.namespace}/${p.name}`,
    name: p.name,
    namespace: p.namespace,
    serviceAccount: p.sa,
    workloadIps: [p.ip],
    protocol: p.namespace === "client-a" ? "TCP" : "HBONE",
    node: NODE_NAMES[p.node],
    labels: { app: p.app },
    annotations: {
      ...(p.namespace === "client-b" ? { "sidecar.istio.io/status": '{"containers":["istio-proxy"]}' } : {}),
      ...(p.name === "notsleep" && o.notsleepRedirection
        ? { "ambient.istio.io/redirection": "disabled" }
        : {}),
    },
    ...(p.app === "httpbin" ? { services: { [`ambient-demo/${HTTPBIN}`]: { 8000: 80 } } } : {}),
  }));
  const docs: unknown[] = [{
    namespaces: [
      { name: "ambient-demo", labels: { "istio.io/dataplane-mode": "ambient" } },
      { name: "client-a", labels: {} },
      // Both labels: the guide's conflict case, where the sidecar wins.
      { name: "client-b", labels: { "istio-injection": "enabled", "istio.io/dataplane-mode": "ambient" } },
    ],
    workloads,
    services: [{
      name: "httpbin",
      namespace: "ambient-demo",
      hostname: HTTPBIN,
      vips: [`/${VIP}`],
      ports: { 8000: 80 },
    }],
  }];
  if (o.policy) {
    docs.push({
      apiVersion: "security.istio.io/v1beta1",
      kind: "AuthorizationPolicy",
      metadata: { name: "allow-sleep-to-httpbin", namespace: "ambient-demo" },
      spec: {
        selector: { matchLabels: { app: "httpbin" } },
        action: "ALLOW",
        rules: [{
          from: [{ source: { principals: ["cluster.local/ns/ambient-demo/sa/sleep"] } }],
          ...(o.policy === "allow-sleep-get" ? { to: [{ operation: { methods: ["GET"] } }] } : {}),
        }],
      },
    });
  }
  if (o.peerAuth) {
    docs.push({
      apiVersion: "security.istio.io/v1beta1",
      kind: "PeerAuthentication",
      metadata: { name: "peerauth", namespace: "ambient-demo" },
      spec: { mtls: { mode: o.peerAuth } },
    });
  }
  return docs.map((d) => stringify(d)).join("---\n");
}
