/**
 * The mesh of the ztunnel interop tests (tests/integration/ztunnel_interop_test.ts): a zt node in the
 * test's own network namespace with pods `sleep`, `echo` and `intruder`, and a dedicated-mode ztunnel in
 * its own namespace for pod `ztunnel-pod`, joined by one veth (the test's end carries the zt node's and
 * pods' addresses; deleting the ztunnel namespace removes the pair). One local config file for both,
 * written in ztunnel's own YAML, which zt's format contains:
 * - only ztunnel's LocalConfig fields (ztunnel refuses unknown fields: no `labels`, `namespaces`,
 *   second documents or Istio resources, which are zt extensions);
 * - every workload with `services` and every policy with `dryRun` (required by ztunnel, defaulted by zt);
 * - the trust domain spelled out: ztunnel's local config has no default (`spiffe:///ns/…`);
 * - port maps with integer keys (serde_yaml refuses `"80"` for a u16 key);
 * - string matches as serde_yaml enum tags (`!Exact …`), which ztunnel requires and zt reads too.
 */
import { stringify } from "yaml";
import { meshPod, type PodSpec, spiffeOf, TEST_NAMESPACE } from "./mesh_config.ts";
import { must, type Netns } from "./netns.ts";

/** The addresses of one test file's mesh (test files running in parallel each take their own /24). */
export interface MeshAddrs {
  readonly ztNode: { readonly name: string; readonly ip: string };
  readonly sleep: PodSpec;
  readonly echo: PodSpec;
  readonly intruder: PodSpec;
  readonly ztunnelPod: PodSpec;
}

export function meshAddrs(net: string): MeshAddrs {
  const ztNode = { name: "zt-node", ip: `${net}.1` };
  return {
    ztNode,
    sleep: { name: "sleep", ip: `${net}.2`, node: ztNode.name },
    echo: { name: "echo", ip: `${net}.3`, node: ztNode.name },
    intruder: { name: "intruder", ip: `${net}.4`, node: ztNode.name },
    ztunnelPod: { name: "ztunnel-pod", ip: `${net}.10`, node: "ztunnel-node" },
  };
}

/** ztunnel_interop_test.ts's mesh. */
export const INTEROP = meshAddrs("10.213.0");
export const { ztNode: ZT_NODE, sleep: SLEEP, echo: ECHO, intruder: INTRUDER, ztunnelPod: ZTUNNEL_POD } =
  INTEROP;
export const ECHO_PORT = 7070;
/** zt's policy denies ztunnel's pod on this port of `echo`. */
export const DENIED_PORT = 7071;
export const SVC_PORT = 80;

export interface SvcSpec {
  readonly name: string;
  readonly hostname: string;
  readonly vip: string;
}
const svc = (name: string, vip: string): SvcSpec => ({
  name,
  hostname: `${name}.${TEST_NAMESPACE}.svc.cluster.local`,
  vip,
});
/** zt's echo behind a VIP and a CIDR VIP (ztunnel's `cidrVips`). */
export const ZT_ECHO_SVC = svc("zt-echo", "10.96.213.2");
export const ZT_ECHO_CIDR = "10.97.213.0/24";
export const ZTUNNEL_ECHO_SVC = svc("ztunnel-echo", "10.96.213.1");

/** Policy principals are written without `spiffe://`, as Istio's converter writes them. */
const principal = (p: PodSpec) => spiffeOf(p).replace(/^spiffe:\/\//, "");

export function interopMeshYaml(m: MeshAddrs = INTEROP): string {
  const { sleep: SLEEP, echo: ECHO, intruder: INTRUDER, ztunnelPod: ZTUNNEL_POD } = m;
  // Maps, so the port keys are YAML integers.
  const ports = () => new Map([[SVC_PORT, ECHO_PORT]]);
  const endpointOf = (p: PodSpec): Record<string, Map<number, number>> =>
    p === ECHO
      ? { [`${TEST_NAMESPACE}/${ZT_ECHO_SVC.hostname}`]: ports() }
      : p === ZTUNNEL_POD
      ? { [`${TEST_NAMESPACE}/${ZTUNNEL_ECHO_SVC.hostname}`]: ports() }
      : {};
  const workloads = [SLEEP, ECHO, INTRUDER, ZTUNNEL_POD].map((p) =>
    meshPod({ ...p, extra: { trustDomain: "cluster.local", services: endpointOf(p) } })
  );
  const service = (s: SvcSpec, extra = {}) => ({
    name: s.name,
    namespace: TEST_NAMESPACE,
    hostname: s.hostname,
    vips: [`/${s.vip}`],
    ports: ports(),
    ...extra,
  });
  const services = [
    service(ZT_ECHO_SVC, { cidrVips: [{ network: "", cidr: ZT_ECHO_CIDR }] }),
    service(ZTUNNEL_ECHO_SVC),
  ];
  const deny = (name: string, match: string) =>
    `- name: ${name}
  namespace: ${TEST_NAMESPACE}
  scope: Namespace
  action: Deny
  rules:
  - - - ${match}
  dryRun: false
`;
  return `${stringify({ workloads, services })}policies:
${deny("deny-intruder", `principals: [!Exact ${principal(INTRUDER)}]`)}${
    deny(
      `deny-ztunnel-pod-on-${DENIED_PORT}`,
      `principals: [!Exact ${principal(ZTUNNEL_POD)}]\n        destinationPorts: [${DENIED_PORT}]`,
    )
  }${
    deny(
      "sleep-only-from-its-own-address",
      `principals: [!Exact ${principal(SLEEP)}]\n        notSourceIps: [${SLEEP.ip}/32]`,
    )
  }`;
}

/** The ztunnel namespace and the veth to it (the test's end gets the zt node's and pods' addresses). */
export async function linkZtunnelNamespace(
  netns: Netns,
  short: string,
  m: MeshAddrs = INTEROP,
): Promise<string> {
  const { ztNode: ZT_NODE, sleep: SLEEP, echo: ECHO, intruder: INTRUDER, ztunnelPod: ZTUNNEL_POD } = m;
  const ns = await netns.add(short);
  const veth = `ztun${Deno.pid % 100000}`;
  await must(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
  await must(["ip", "addr", "add", `${ZT_NODE.ip}/24`, "dev", veth]);
  for (const p of [SLEEP, ECHO, INTRUDER]) await must(["ip", "addr", "add", `${p.ip}/32`, "dev", veth]);
  await must(["ip", "link", "set", veth, "up"]);
  await netns.must(ns, ["ip", "addr", "add", `${ZTUNNEL_POD.ip}/24`, "dev", "eth0"]);
  await netns.must(ns, ["ip", "link", "set", "eth0", "up"]);
  return ns;
}

/**
 * A config using most of the local config's fields, for comparing the two config_dumps: every field
 * zt would derive (canonical names, workload type, cluster id) is spelled out, since ztunnel's local
 * config derives none of them.
 */
export const PARITY_YAML = `workloads:
- uid: Kubernetes//Pod/ops/a
  name: a
  namespace: ops
  serviceAccount: a
  trustDomain: cluster.local
  workloadIps: ["10.214.1.1"]
  protocol: HBONE
  node: n1
  canonicalName: a-app
  canonicalRevision: v1
  workloadName: a-deploy
  workloadType: deployment
  clusterId: Kubernetes
  locality: {region: r1, zone: z1, subzone: s1}
  capacity: 3
  authorizationPolicies: ["ops/allow-a"]
  waypoint: {destination: "/10.214.9.9", hboneMtlsPort: 15008}
  applicationTunnel: {protocol: PROXY, port: 15088}
  services:
    "ops/s.ops.svc.cluster.local":
      80: 8080
- uid: Kubernetes//Pod/ops/b
  name: b
  namespace: ops
  serviceAccount: b
  trustDomain: cluster.local
  workloadIps: ["10.214.1.2"]
  protocol: TCP
  networkMode: HostNetwork
  status: Unhealthy
  canonicalName: b
  canonicalRevision: latest
  workloadName: b
  workloadType: deployment
  clusterId: Kubernetes
  services: {}
- uid: Kubernetes//Pod/ops/c
  name: c
  namespace: ops
  serviceAccount: c
  trustDomain: td2
  workloadIps: ["fd00::5", "10.214.1.3"]
  protocol: HBONE
  network: net1
  nativeTunnel: true
  networkGateway: {destination: "net1/10.214.9.8", hboneMtlsPort: 15009}
  canonicalName: c
  canonicalRevision: latest
  workloadName: c
  workloadType: pod
  clusterId: other
  services: {}
services:
- name: w
  namespace: ops
  hostname: w.ops.svc.cluster.local
  vips: ["net1/fd00::1"]
  ports: {}
  weightedWaypoints:
  - {destination: {destination: "ops/wp1.ops.svc.cluster.local", hboneMtlsPort: 15008}, weight: 90}
  - {destination: {destination: "/10.214.9.7", hboneMtlsPort: 15008}, weight: 10}
- name: s
  namespace: ops
  hostname: s.ops.svc.cluster.local
  vips: ["/10.96.214.1"]
  cidrVips: [{network: "", cidr: "10.97.214.0/24"}]
  ports: {80: 8080}
  subjectAltNames: ["spiffe://cluster.local/ns/ops/sa/a"]
  waypoint: {destination: "ops/wp.ops.svc.cluster.local", hboneMtlsPort: 15008}
  loadBalancer: {routingPreferences: [Zone, Region], mode: Failover, healthPolicy: AllowAll}
  ipFamilies: IPv4
  canonical: true
  visibility: Namespace
policies:
- name: allow-a
  namespace: ops
  scope: WorkloadSelector
  action: Allow
  rules:
  - - - namespaces: [!Prefix o]
        notPrincipals: [!Suffix /sa/x]
        serviceAccounts: [{namespace: ops, serviceAccount: a}]
        sourceIps: ["10.0.0.0/8"]
        destinationPorts: [8080]
    - - principals: [!Presence []]
  dryRun: true
- name: global-deny
  namespace: istio-system
  scope: Global
  action: Deny
  rules:
  - - - notNamespaces: [!Exact kube-system]
        destinationIps: ["fd00::/64"]
        notDestinationPorts: [9]
        notServiceAccounts: [{namespace: a, serviceAccount: b}]
        notSourceIps: ["10.1.2.3/32"]
        notDestinationIps: ["10.9.0.0/16"]
  dryRun: false
`;
