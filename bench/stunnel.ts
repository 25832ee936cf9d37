/**
 * The stunnel baseline: lg → stunnel (client side: plaintext in, TLS out with a client certificate)
 * → stunnel (server side: TLS in, client certificate required and verified, plaintext out) → sink.
 * TLS 1.3 only, ECDSA P-256 certificates with SPIFFE URI SANs, and zt's cipher suites.
 * Installs Debian's stunnel4 with apt-get when no stunnel is on PATH.
 */
import { ensureCommand } from "./apt.ts";
import { type BenchPki, makePki } from "./certs.ts";
import { run, start } from "./process.ts";
import { exitedMessage, type Setup, type SetupContext, type SetupDef, waitForPort } from "./setup.ts";

export const STUNNEL_CLIENT_ADDR = "127.0.0.1:26001";
export const STUNNEL_SERVER_ADDR = "127.0.0.1:26008";
/** The TLS 1.3 suites zt offers. */
export const CIPHERSUITES = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

let binary: string | undefined;
let pki: BenchPki | undefined;

function common(): string[] {
  return [
    "foreground = yes",
    "pid =",
    "syslog = no",
    "debug = warning",
    "socket = l:TCP_NODELAY=1",
    "socket = r:TCP_NODELAY=1",
  ];
}

function tls(cert: string, key: string, ca: string): string[] {
  return [
    `cert = ${cert}`,
    `key = ${key}`,
    `CAfile = ${ca}`,
    "verifyChain = yes",
    "sslVersionMin = TLSv1.3",
    "sslVersionMax = TLSv1.3",
    `ciphersuites = ${CIPHERSUITES}`,
  ];
}

/** The two stunnel configuration files' text. */
export function stunnelConfigs(p: BenchPki, sink: string): { client: string; server: string } {
  const client = [
    ...common(),
    "[bench-client]",
    "client = yes",
    `accept = ${STUNNEL_CLIENT_ADDR}`,
    `connect = ${STUNNEL_SERVER_ADDR}`,
    ...tls(p.client.cert, p.client.key, p.ca),
  ];
  const server = [
    ...common(),
    "[bench-server]",
    `accept = ${STUNNEL_SERVER_ADDR}`,
    `connect = ${sink}`,
    "requireCert = yes",
    ...tls(p.server.cert, p.server.key, p.ca),
  ];
  return { client: client.join("\n") + "\n", server: server.join("\n") + "\n" };
}

export async function stunnelVersion(): Promise<string> {
  if (!binary) return "not installed";
  try {
    const out = await new Deno.Command(binary, { args: ["-version"], stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    return text.match(/stunnel \S+/)?.[0] ?? text.trim().split("\n")[0];
  } catch {
    return "unknown";
  }
}

async function startStunnel(ctx: SetupContext): Promise<Setup> {
  binary ??= await ensureCommand(["stunnel4", "stunnel"], ["stunnel4"]);
  await run("openssl", ["version"]).catch(() => {
    throw new Error("openssl not found; it is needed to make the stunnel certificates");
  });
  pki ??= await makePki(`${ctx.tmp}/stunnel-pki`);
  const conf = stunnelConfigs(pki, ctx.sink);
  const dir = `${ctx.tmp}/stunnel`;
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(`${dir}/server.conf`, conf.server);
  Deno.writeTextFileSync(`${dir}/client.conf`, conf.client);
  const procs = ["server", "client"].map((side) =>
    start({
      label: `stunnel ${side}`,
      cmd: binary!,
      args: [`${dir}/${side}.conf`],
      nofile: 1 << 20,
      logFile: `${ctx.logDir}/stunnel-${side}.log`,
    })
  );
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
  };
  try {
    for (const [p, addr] of [[procs[0], STUNNEL_SERVER_ADDR], [procs[1], STUNNEL_CLIENT_ADDR]] as const) {
      await waitForPort(addr, 10000, () => p.exited ? `${p.label} exited: ${p.tail()}` : undefined);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    name: "stunnel",
    route: { target: STUNNEL_CLIENT_ADDR },
    // Client side first, as for zt (node A, then node B).
    proxies: [procs[1], procs[0]].map((p) => ({ label: p.label, pid: p.pid })),
    failure: () => exitedMessage(procs),
    stop,
  };
}

export const STUNNEL: SetupDef = {
  name: "stunnel",
  description: "lg → stunnel → mutual TLS 1.3 (ECDSA P-256) → stunnel → sink",
  start: startStunnel,
};
