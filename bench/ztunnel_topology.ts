/**
 * The two-namespace topology of the `ztunnel` and `zt-netns` setups. ztunnel binds its listeners on fixed
 * ports (dedicated mode: [::]:15008, 127.0.0.1:15080, ...), so two of them need two network namespaces:
 * node A (pod `client`, 10.214.0.1) and node B (pod `server`, 10.214.0.2, where the sink listens), joined
 * by one veth pair. The veth's MTU is raised to loopback's size (65535, not 1500), so the HBONE hop
 * moves segments as big as the loopback setups' do. lg runs inside A and enters through SOCKS5; the
 * sink runs inside B. Needs root and `ip`.
 */
import { startSink } from "./lg_client.ts";
import type { Proc } from "./process.ts";
import { NotRun, type SetupContext } from "./setup.ts";
import { Netns, netnsSkipReason } from "../tests/fakes/netns.ts";

export const NODE_A = { name: "node-a", ip: "10.214.0.1", pod: "client" };
export const NODE_B = { name: "node-b", ip: "10.214.0.2", pod: "server" };
export const SINK_PORT = 19000;
const MTU = "65535";

/** The local config both setups read (ztunnel's LocalConfig fields only, which zt reads too). */
export const TWO_NODE_CONFIG = [NODE_A, NODE_B].map((n) =>
  `- uid: Kubernetes//Pod/bench/${n.pod}
  name: ${n.pod}
  namespace: bench
  serviceAccount: ${n.pod}
  trustDomain: cluster.local
  workloadIps: ["${n.ip}"]
  protocol: HBONE
  node: ${n.name}
  services: {}
`
).join("").replace(/^/, "workloads:\n");

export interface TwoNodes {
  readonly netns: Netns;
  /** Node A's and node B's namespace names. */
  readonly a: string;
  readonly b: string;
  readonly configPath: string;
  readonly sink: Proc;
  /** Stops the sink and deletes both namespaces (with whatever still runs in them). */
  destroy(): Promise<void>;
}

/** Builds A and B, writes the config into `ctx.tmp/<label>`, starts the sink in B. */
export async function twoNodeNamespaces(ctx: SetupContext, label: string): Promise<TwoNodes> {
  const skip = await netnsSkipReason(["ip"]);
  if (skip) throw new NotRun(skip);
  const netns = new Netns(`ztbz-${Deno.pid}`);
  await netns.removeStale();
  let sink: Proc | undefined;
  const destroy = async () => {
    await sink?.stop(2000);
    await netns.destroy();
  };
  try {
    const a = await netns.add("a", { "net.ipv4.tcp_tw_reuse": "1" });
    const b = await netns.add("b", { "net.ipv4.tcp_tw_reuse": "1" });
    await netns.must(a, [
      "ip",
      "link",
      "add",
      "eth0",
      "mtu",
      MTU,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      b,
    ]);
    await netns.must(b, ["ip", "link", "set", "eth0", "mtu", MTU]);
    for (const [ns, ip] of [[a, NODE_A.ip], [b, NODE_B.ip]]) {
      await netns.must(ns, ["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
      await netns.must(ns, ["ip", "link", "set", "eth0", "up"]);
    }
    const dir = `${ctx.tmp}/${label}-${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(dir, { recursive: true });
    const configPath = `${dir}/local.yaml`;
    Deno.writeTextFileSync(configPath, TWO_NODE_CONFIG);
    sink = (await startSink(ctx.lg, `${NODE_B.ip}:${SINK_PORT}`, `${ctx.logDir}/${label}-sink.log`, b)).proc;
    return { netns, a, b, configPath, sink, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}
