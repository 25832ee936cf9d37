/**
 * The in-pod demo's topology as data: two node namespaces joined by a veth (the node network), each
 * pod a namespace behind a veth to its node (a /32 and a default route via the node, as a CNI plugin
 * sets it up), service VIPs unroutable (only zt makes them reachable), and each pod's Kubernetes
 * resolv.conf. What to run to build it is a pure function of this plan; nothing here runs anything.
 *
 *   node-a 172.18.0.2 ── nl0 ══ nl0 ── node-b 172.18.0.3       services 10.96.0.0/16 (kube-dns .10)
 *     sleep 10.244.1.10, notsleep .11, httpbin-1 .12             httpbin-2 10.244.2.12
 */
import type { DemoPod } from "./demo_mesh.ts";

export interface InpodDemoNode {
  readonly name: string;
  /** Its network namespace (`ip netns exec node-a ...`). */
  readonly ns: string;
  /** INSTANCE_IP: its address on the node network. */
  readonly ip: string;
  /** The gateway address its pods route through. */
  readonly gw: string;
  readonly podNet: string;
}

export interface InpodDemoPod extends DemoPod {
  /** Its network namespace name (`ip netns exec sleep ...`). */
  readonly ns: string;
  readonly netns: string;
}

export const INPOD_NODES: readonly [InpodDemoNode, InpodDemoNode] = [
  { name: "node-a", ns: "node-a", ip: "172.18.0.2", gw: "10.244.1.1", podNet: "10.244.1.0/24" },
  { name: "node-b", ns: "node-b", ip: "172.18.0.3", gw: "10.244.2.1", podNet: "10.244.2.0/24" },
];

const pod = (name: string, app: string, ip: string, node: string): InpodDemoPod => ({
  name,
  app,
  sa: app,
  ip,
  node,
  ns: name,
  netns: `/var/run/netns/${name}`,
});

export const INPOD_PODS: readonly InpodDemoPod[] = [
  pod("sleep", "sleep", "10.244.1.10", "node-a"),
  pod("notsleep", "notsleep", "10.244.1.11", "node-a"),
  pod("httpbin-1", "httpbin", "10.244.1.12", "node-a"),
  pod("httpbin-2", "httpbin", "10.244.2.12", "node-b"),
];

/** kube-dns's ClusterIP: the pods' nameserver (istio-cni's rules send its port 53 to zt in the pod). */
export const KUBE_DNS = "10.96.0.10";
export const SERVICE_NET = "10.96.0.0/16";
export const NODE_NET_PREFIX = 24;

/** Every namespace the demo makes, nodes first. */
export const INPOD_NAMESPACES: readonly string[] = [
  ...INPOD_NODES.map((n) => n.ns),
  ...INPOD_PODS.map((p) => p.ns),
];

export function inpodPod(name: string): InpodDemoPod {
  const p = INPOD_PODS.find((x) => x.name === name);
  if (!p) throw new Error(`no demo pod ${name}`);
  return p;
}

export function inpodNode(name: string): InpodDemoNode {
  const n = INPOD_NODES.find((x) => x.name === name);
  if (!n) throw new Error(`no demo node ${name}`);
  return n;
}

/** A pod's /etc/resolv.conf as the kubelet writes it (ClusterFirst). */
export function podResolvConf(namespace: string): string {
  return `nameserver ${KUBE_DNS}\nsearch ${namespace}.svc.cluster.local svc.cluster.local cluster.local\n` +
    `options ndots:5\n`;
}

/** One step of building the topology: a namespace to add (with sysctls), or a command inside one. */
export type TopologyStep =
  | { readonly add: string; readonly sysctls: Readonly<Record<string, string>> }
  | { readonly ns: string; readonly argv: readonly string[] };

/** IPv4 only, as istio-cni's rules are installed here (`--ipv6 false`). */
const NO_IPV6 = { "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1" };

/** The steps that build the topology from nothing, in order. */
export function topologySteps(): TopologyStep[] {
  const [a, b] = INPOD_NODES;
  const steps: TopologyStep[] = [];
  const run = (ns: string, ...argv: string[]) => steps.push({ ns, argv });
  for (const n of INPOD_NODES) {
    steps.push({ add: n.ns, sysctls: { ...NO_IPV6, "net.ipv4.ip_forward": "1" } });
  }
  run(a.ns, "ip", "link", "add", "nl0", "type", "veth", "peer", "name", "nl0", "netns", b.ns);
  for (const [me, other] of [[a, b], [b, a]]) {
    run(me.ns, "ip", "addr", "add", `${me.ip}/${NODE_NET_PREFIX}`, "dev", "nl0");
    run(me.ns, "ip", "link", "set", "nl0", "up");
    run(me.ns, "ip", "route", "add", other.podNet, "via", other.ip);
    run(me.ns, "ip", "route", "add", "unreachable", SERVICE_NET);
  }
  for (const p of INPOD_PODS) {
    const node = inpodNode(p.node);
    const veth = `v-${p.name}`;
    steps.push({ add: p.ns, sysctls: NO_IPV6 });
    run(node.ns, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", p.ns);
    run(node.ns, "ip", "link", "set", veth, "up");
    run(node.ns, "ip", "addr", "add", `${node.gw}/32`, "dev", veth);
    run(node.ns, "ip", "route", "add", `${p.ip}/32`, "dev", veth, "src", node.gw);
    run(p.ns, "ip", "addr", "add", `${p.ip}/32`, "dev", "eth0");
    run(p.ns, "ip", "link", "set", "eth0", "up");
    run(p.ns, "ip", "route", "add", node.gw, "dev", "eth0");
    run(p.ns, "ip", "route", "add", "default", "via", node.gw, "dev", "eth0");
  }
  return steps;
}

/** The step makes or configures pod `p` (its namespace, or its veth on the node). */
export function stepConcerns(s: TopologyStep, p: InpodDemoPod): boolean {
  if ("add" in s) return s.add === p.ns;
  return s.ns === p.ns || s.argv.includes(`v-${p.name}`);
}

/** A step as the shell line a user would type. */
export function formatStep(s: TopologyStep): string {
  if ("add" in s) {
    const sysctls = Object.entries(s.sysctls).map(([k, v]) => `${k}=${v}`).join(" ");
    return `ip netns add ${s.add} && ip -n ${s.add} link set lo up` +
      (sysctls ? ` && ip netns exec ${s.add} sysctl -qw ${sysctls}` : "");
  }
  return `ip netns exec ${s.ns} ${s.argv.join(" ")}`;
}
