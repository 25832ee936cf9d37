/**
 * The zt setup: lg → (SOCKS5) zt node A → HBONE → zt node B → sink, two `deno run <permissions.txt>
 * main.ts run` processes started from a local config (ztunnel's LOCAL_XDS_PATH format) and a built-in CA made
 * by `main.ts ca init`. Pod `client` (127.10.1.1) lives on node-a (127.10.0.1), pod `server`
 * (127.20.1.1, where the sink listens) on node-b (127.20.0.1).
 */
import { runLg } from "./lg_client.ts";
import { ztPermissions } from "../tests/fakes/permissions.ts";
import { type Proc, run, sleep, start } from "./process.ts";
import { exitedMessage, NotRun, type Setup, type SetupContext, type SetupDef } from "./setup.ts";

const ROOT = new URL("..", import.meta.url).pathname;
export const ZT_MAIN = `${ROOT}main.ts`;
export const CLIENT_POD_IP = "127.10.1.1";
export const SERVER_POD_IP = "127.20.1.1";
export const ZT_SOCKS5 = `${CLIENT_POD_IP}:15080`;
const READY_TIMEOUT_MS = 60000;
/** The CA is made once per bench (in ctx.tmp) and shared by every start of the nodes. */
let caReady = false;

const NODES = [
  { name: "node-a", ip: "127.10.0.1" },
  { name: "node-b", ip: "127.20.0.1" },
];

export const LOCAL_CONFIG = `workloads:
- name: client
  namespace: bench
  serviceAccount: client
  workloadIps: ["${CLIENT_POD_IP}"]
  protocol: HBONE
  node: node-a
- name: server
  namespace: bench
  serviceAccount: server
  workloadIps: ["${SERVER_POD_IP}"]
  protocol: HBONE
  node: node-b
`;

async function waitReady(p: Proc, ip: string): Promise<void> {
  const url = `http://${ip}:15021/healthz/ready`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (p.exited) throw new NotRun(`${p.label} exited before it was ready: ${p.tail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(200);
  }
  throw new NotRun(`${p.label}: ${url} not 200 after ${READY_TIMEOUT_MS / 1000} s (${last}); ${p.tail()}`);
}

/** Why zt cannot run at all, or undefined when main.ts exists. */
export function ztMissing(): string | undefined {
  try {
    Deno.statSync(ZT_MAIN);
    return undefined;
  } catch {
    return `${ZT_MAIN} does not exist`;
  }
}

async function startZt(ctx: SetupContext, tls: "node" | "openssl" = "node"): Promise<Setup> {
  const missing = ztMissing();
  if (missing) throw new NotRun(missing);
  const deno = Deno.execPath();
  const dir = `${ctx.tmp}/zt`;
  const caDir = `${dir}/ca`;
  if (!caReady) {
    Deno.mkdirSync(dir, { recursive: true });
    try {
      await run(deno, ["run", "-A", ZT_MAIN, "ca", "init", caDir], { cwd: ROOT, timeoutMs: 60000 });
    } catch (e) {
      throw new NotRun(`zt ca init failed: ${e instanceof Error ? e.message : e}`);
    }
    caReady = true;
  }
  const xds = `${dir}/local.yaml`;
  Deno.writeTextFileSync(xds, LOCAL_CONFIG);
  const procs = NODES.map((n) =>
    start({
      label: `zt ${n.name}`,
      cmd: deno,
      // Exactly the binary's flags (permissions and V8 heap setting), not -A.
      args: ["run", ...ztPermissions(), ZT_MAIN, "run"],
      cwd: ROOT,
      env: {
        NODE_NAME: n.name,
        INSTANCE_IP: n.ip,
        LOCAL_XDS_PATH: xds,
        LOCAL_CA_DIR: caDir,
        LOG_FORMAT: "json",
        RUST_LOG: "warn",
        ZT_TLS: tls,
      },
      nofile: 1 << 20,
      logFile: `${ctx.logDir}/zt-${n.name}.log`,
    })
  );
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop(5000)));
  };
  const route = { target: ctx.sink, socks5: ZT_SOCKS5 };
  try {
    await Promise.all(procs.map((p, i) => waitReady(p, NODES[i].ip)));
    // Ready is not enough: check that a byte makes it through the tunnel and back.
    await runLg(ctx.lg, "pingpong", route, ["--seconds", "0.2", "--warmup", "0"], 20000).catch((e) => {
      throw new NotRun(`zt is ready but the tunnel check failed: ${e instanceof Error ? e.message : e}`);
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    name: tls === "node" ? "zt" : "zt-openssl",
    route,
    proxies: procs.map((p) => ({ label: p.label, pid: p.pid })),
    failure: () => exitedMessage(procs),
    stop,
  };
}

export const ZT: SetupDef = {
  name: "zt",
  description: "lg → SOCKS5 → zt node A → HBONE (mTLS, HTTP/2 CONNECT) → zt node B → sink",
  start: (ctx) => startZt(ctx, "node"),
};

/** The same with ZT_TLS=openssl: libssl through FFI under HBONE instead of node:tls. */
export const ZT_OPENSSL: SetupDef = {
  name: "zt-openssl",
  description: "as zt, with ZT_TLS=openssl (libssl.so.3 through FFI instead of node:tls)",
  start: (ctx) => startZt(ctx, "openssl"),
};
