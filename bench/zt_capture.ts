/**
 * The zt-capture setup: Istio's ambient topology from network namespaces (as
 * tests/integration/capture_test.ts builds it): two node namespaces, each with a zt under
 * ZT_CAPTURE=tproxy and `zt redirect install`'s rules, pods as namespaces on veths. lg runs unmodified
 * in pod `sleep` (node A) and connects straight to pod `httpbin-2` (node B), where the sink listens:
 * lg → TPROXY → zt node A → HBONE → zt node B → TPROXY → sink. Needs root, ip and iptables.
 * Pod traffic crosses veths here, not loopback, so compare it with `zt` knowing that.
 */
import { startSink } from "./lg_client.ts";
import { NotRun, type Setup, type SetupContext, type SetupDef } from "./setup.ts";
import { Netns, netnsSkipReason } from "../tests/fakes/netns.ts";
import { Topology } from "../tests/fakes/ambient_topology.ts";
import {
  captureNodes,
  captureWiringSkipReason,
  type NetnsZtNode,
  ztArgv,
} from "../tests/fakes/netns_zt_node.ts";
import { writeMeshFiles } from "../tests/fakes/zt_node.ts";
import { meshYaml } from "../tests/fakes/ambient_mesh.ts";

const SINK_PORT = 19000;

async function startCapture(ctx: SetupContext): Promise<Setup> {
  const skip = captureWiringSkipReason() ?? await netnsSkipReason();
  if (skip) throw new NotRun(skip);
  const netns = new Netns(`ztbench-${Deno.pid}`);
  await netns.removeStale();
  const topo = new Topology(netns);
  const nodes: NetnsZtNode[] = [];
  const dir = `${ctx.tmp}/capture-${crypto.randomUUID().slice(0, 8)}`;
  let sink: Awaited<ReturnType<typeof startSink>> | undefined;
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await sink?.proc.stop(2000);
    await netns.destroy();
  };
  try {
    await Deno.mkdir(dir, { recursive: true });
    await topo.build();
    const { caDir, configPath } = await writeMeshFiles(dir, meshYaml());
    for (const n of topo.nodes) {
      const r = await netns.run(
        n.ns,
        ztArgv(["redirect", "install", "--config", configPath, "--node", n.name], [
          "--allow-run=ip,iptables,iptables-restore,sysctl",
        ]),
      );
      if (r.code !== 0) throw new Error(`zt redirect install on ${n.name}: ${r.stderr.trim()}`);
    }
    nodes.push(...captureNodes(netns, topo.nodes, { caDir, configPath }, { RUST_LOG: "info,access=warn" }));
    await Promise.all(nodes.map((n) => n.ready()));
    // The client pod and the nodes open tens of thousands of short connections (connrate): let them
    // reuse TIME_WAIT ports as the host does on loopback (tcp_tw_reuse=2 covers loopback only), or the
    // ephemeral range runs out mid-run.
    const client = netns.name(topo.pod("sleep").short);
    for (const ns of [client, ...topo.nodes.map((n) => n.ns)]) {
      await netns.must(ns, ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
    }
    const server = topo.pod("httpbin-2");
    sink = await startSink(
      ctx.lg,
      `${server.ip}:${SINK_PORT}`,
      `${ctx.logDir}/capture-sink.log`,
      netns.name(server.short),
    );
    let exited: string | undefined;
    for (const n of nodes) n.child.status.then((s) => (exited ??= `${n.name} exited (${s.code})`));
    return {
      name: "zt-capture",
      route: { target: `${server.ip}:${SINK_PORT}`, netns: client },
      proxies: nodes.map((n) => ({ label: `zt ${n.name}`, pid: n.child.pid })),
      failure: () => exited ?? (sink?.proc.exited ? "capture sink exited" : undefined),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

export const ZT_CAPTURE: SetupDef = {
  name: "zt-capture",
  description:
    "lg in pod sleep → TPROXY → zt node A → HBONE → zt node B → TPROXY → sink in pod httpbin-2 (netns, veths)",
  start: startCapture,
};
