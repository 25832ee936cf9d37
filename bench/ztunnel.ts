/**
 * The `ztunnel` setup: lg → SOCKS5 → ztunnel node A → HBONE → ztunnel node B → sink, with Istio's own
 * ztunnel (the binary named by ZTUNNEL_BIN; the bench never builds it) in dedicated mode, one per node
 * namespace (bench/ztunnel_topology.ts), configured from a local config (`LOCAL_XDS_PATH`,
 * `XDS_ADDRESS=""`) with its test CA (`FAKE_CA=true`), SOCKS5 on (`UNSTABLE_ENABLE_SOCKS5`), default
 * worker threads. And `zt-netns`: zt's two nodes on exactly that topology (the same veth hop, config and
 * lg placement), so zt and ztunnel are compared on equal footing; `zt` itself runs on loopback.
 */
import { runLg } from "./lg_client.ts";
import { type Proc, run, sleep, start } from "./process.ts";
import { exitedMessage, NotRun, type Setup, type SetupContext, type SetupDef } from "./setup.ts";
import { NODE_A, NODE_B, SINK_PORT, twoNodeNamespaces, type TwoNodes } from "./ztunnel_topology.ts";
import { ZT_MAIN } from "./zt_nodes.ts";
import { ztunnelBinary, ztunnelEnv } from "../tests/fakes/ztunnel_node.ts";
import { ztPermissions } from "../tests/fakes/permissions.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const READY_TIMEOUT_MS = 60_000;
let caDir: string | undefined;

/** Polls `http://ip:15021/healthz/ready` from inside `ns` (the bench's own namespace cannot reach it). */
async function waitReadyIn(t: TwoNodes, ns: string, ip: string, p: Proc): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (p.exited) throw new NotRun(`${p.label} exited before it was ready: ${p.tail()}`);
    const r = await t.netns.run(ns, [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      "2",
      `http://${ip}:15021/healthz/ready`,
    ]);
    last = r.stdout.trim() || r.stderr.trim();
    if (last === "200") return;
    await sleep(200);
  }
  throw new NotRun(`${p.label}: readiness not 200 after ${READY_TIMEOUT_MS / 1000} s (${last}); ${p.tail()}`);
}

type NodeStarter = (t: TwoNodes, node: typeof NODE_A, ns: string, ctx: SetupContext) => Promise<Proc>;

async function startTwoNodes(
  ctx: SetupContext,
  name: string,
  socks5Ip: string,
  startNode: NodeStarter,
): Promise<Setup> {
  const t = await twoNodeNamespaces(ctx, name);
  const procs: Proc[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop(5000)));
    await t.destroy();
  };
  const route = { target: `${NODE_B.ip}:${SINK_PORT}`, socks5: `${socks5Ip}:15080`, netns: t.a };
  try {
    procs.push(await startNode(t, NODE_A, t.a, ctx), await startNode(t, NODE_B, t.b, ctx));
    await Promise.all(procs.map((p, i) => waitReadyIn(t, i ? t.b : t.a, i ? NODE_B.ip : NODE_A.ip, p)));
    await runLg(ctx.lg, "pingpong", route, ["--seconds", "0.2", "--warmup", "0"], 20000).catch((e) => {
      throw new NotRun(`${name} is ready but the tunnel check failed: ${e instanceof Error ? e.message : e}`);
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    name,
    route,
    proxies: procs.map((p) => ({ label: p.label, pid: p.pid })),
    failure: () => exitedMessage(procs) ?? (t.sink.exited ? "sink exited" : undefined),
    stop,
  };
}

/** ZTUNNEL_BIN's binary, or NotRun with the reason the report shows after "not run: ". */
export function ztunnelOrNotRun(bin?: string): string {
  const found = ztunnelBinary(bin);
  if ("skip" in found) throw new NotRun(found.skip.replace(/^not run: /, ""));
  return found.bin;
}

function startZtunnel(ctx: SetupContext): Promise<Setup> {
  const bin = ztunnelOrNotRun();
  return startTwoNodes(ctx, "ztunnel", "127.0.0.1", (t, node, ns) =>
    Promise.resolve(start({
      label: `ztunnel ${node.name}`,
      cmd: "ip",
      args: ["netns", "exec", ns, bin],
      env: ztunnelEnv({
        workload: { namespace: "bench", name: node.pod, serviceAccount: node.pod },
        configPath: t.configPath,
        ca: { kind: "fake" },
        logLevel: "warn",
      }),
      nofile: 1 << 20,
      logFile: `${ctx.logDir}/ztunnel-${node.name}.log`,
    })));
}

async function startZtNetns(ctx: SetupContext): Promise<Setup> {
  const deno = Deno.execPath();
  if (!caDir) {
    const dir = `${ctx.tmp}/zt-netns-ca`;
    await run(deno, ["run", "-A", ZT_MAIN, "ca", "init", dir], { cwd: ROOT, timeoutMs: 60000 }).catch((e) => {
      throw new NotRun(`zt ca init failed: ${e instanceof Error ? e.message : e}`);
    });
    caDir = dir;
  }
  const ca = caDir;
  return startTwoNodes(ctx, "zt-netns", NODE_A.ip, (t, node, ns) =>
    Promise.resolve(start({
      label: `zt ${node.name}`,
      cmd: "ip",
      // Exactly the binary's flags (permissions and V8 heap setting), as the `zt` setup runs it.
      args: ["netns", "exec", ns, deno, "run", ...ztPermissions(), ZT_MAIN, "run"],
      cwd: ROOT,
      env: {
        NODE_NAME: node.name,
        INSTANCE_IP: node.ip,
        LOCAL_XDS_PATH: t.configPath,
        LOCAL_CA_DIR: ca,
        LOG_FORMAT: "json",
        RUST_LOG: "warn",
      },
      nofile: 1 << 20,
      logFile: `${ctx.logDir}/zt-netns-${node.name}.log`,
    })));
}

export const ZTUNNEL: SetupDef = {
  name: "ztunnel",
  description:
    "lg → SOCKS5 → ztunnel node A → HBONE → ztunnel node B → sink (Istio's ztunnel, ZTUNNEL_BIN; " +
    "dedicated mode, one netns per node, veth between them)",
  start: startZtunnel,
};

export const ZT_NETNS: SetupDef = {
  name: "zt-netns",
  description: "as ztunnel, with zt's nodes: the same two namespaces, veth, config and SOCKS5 entry",
  start: startZtNetns,
};
