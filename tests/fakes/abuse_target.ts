/**
 * The target of the abuse test and bench/abuse.ts: one real zt node (standalone config, built-in CA)
 * serving two pods — `client` (SOCKS5 entry of the live tunnel) and `app` (the pod attacked on its
 * HBONE port) — with the app's servers on the app's IP: an echo server for the live tunnel, another
 * one for the attackers' CONNECTs (its accept count is the upstream work they caused), and a sink that
 * accepts and never reads. The attacker's mesh certificate is signed by the node's CA.
 */
import { type RunningServer, startEchoServer } from "./echo_server.ts";
import { type SinkServer, startSinkServer } from "./sink_server.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "./zt_node.ts";
import { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import type { AttackContext } from "../peers/h2_attacks.ts";

export interface AbuseIps {
  readonly node: string;
  readonly pod: string;
  readonly app: string;
}

export const LIVE_PORT = 7000;
const ATTACK_ECHO_PORT = 7002;
const SINK_PORT = 7001;

export interface AbuseTarget {
  readonly node: NodeProcess;
  readonly ctx: AttackContext;
  readonly ips: AbuseIps;
  close(): Promise<number>;
}

export async function startAbuseTarget(
  ips: AbuseIps,
  env: Record<string, string> = {},
): Promise<AbuseTarget> {
  const dir = await Deno.makeTempDir({ prefix: "zt-abuse-" });
  const workload = (name: string, ip: string) => ({
    name,
    namespace: "ns",
    serviceAccount: name,
    workloadIps: [ip],
    protocol: "HBONE",
    node: "node-a",
  });
  const { caDir, configPath } = await writeMeshFiles(dir, {
    workloads: [workload("client", ips.pod), workload("app", ips.app)],
  });
  const servers: Array<RunningServer | SinkServer> = [];
  const live = startEchoServer(ips.app, LIVE_PORT);
  const echo = startEchoServer(ips.app, ATTACK_ECHO_PORT);
  const sink = startSinkServer(ips.app, SINK_PORT);
  servers.push(live, echo, sink);
  let node: NodeProcess;
  try {
    node = await startNode({ name: "node-a", ip: ips.node, caDir, configPath, env });
  } catch (e) {
    await Promise.all(servers.map((s) => s.close()));
    throw e;
  }
  const cert = await (await BuiltinCa.load(caDir)).sign(
    { trustDomain: "cluster.local", namespace: "ns", serviceAccount: "attacker" },
    3600_000,
  );
  const ctx: AttackContext = {
    target: {
      host: ips.app,
      port: 15008,
      cert: cert.certChainPem.join(""),
      key: cert.keyPem,
      ca: cert.rootsPem.join(""),
    },
    echo: `${ips.app}:${ATTACK_ECHO_PORT}`,
    sink: `${ips.app}:${SINK_PORT}`,
    upstreamAccepted: () => echo.accepted,
  };
  return {
    node,
    ctx,
    ips,
    async close() {
      const code = await node.stop();
      await Promise.all(servers.map((s) => s.close()));
      await Deno.remove(dir, { recursive: true });
      return code;
    },
  };
}
