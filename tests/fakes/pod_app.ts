/**
 * What runs inside a test pod's network namespace (`ip netns exec <pod> deno run -A pod_app.ts ...`):
 *   serve NAME PORT                 the named HTTP server ("httpbin"); prints "ready" once listening
 *   get URL                         a plain HTTP/1.0 GET over TCP (curl's stand-in); body on stdout
 *   hbone CA_DIR NS SA POD_IP PORT  a sidecar-style client: its own mesh certificate, node:http2 CONNECT
 *                                   to POD_IP:15008 for POD_IP:PORT, then a GET through the tunnel
 *   keepalive URL N MS              N requests of HTTP/1.1 keep-alive on ONE connection, one every MS ms;
 *                                   prints one line per response ("ok <i>")
 * `get` and `hbone` exit 0 with the HTTP response on stdout, 1 with the error on stderr.
 */
import http2 from "node:http2";
import { Buffer } from "node:buffer";
import { startNamedHttpServer } from "./echo_server.ts";

const REQUEST = (host: string) => `GET /get HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: pod-app\r\n\r\n`;

async function serve(name: string, port: number): Promise<void> {
  const s = startNamedHttpServer(name, "0.0.0.0", port);
  await new Promise((r) => setTimeout(r, 20));
  console.log("ready");
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", () => resolve()));
  await s.close();
}

async function get(url: string): Promise<string> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
  await conn.write(new TextEncoder().encode(REQUEST(u.host)));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  if (!text.startsWith("HTTP/1.")) throw new Error(`no HTTP response (${text.length} bytes)`);
  return text;
}

/** One TCP connection, `n` keep-alive requests `ms` apart; each response must be complete and 200. */
async function keepalive(url: string, n: number, ms: number): Promise<void> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
  const req = new TextEncoder().encode(`GET /get HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: pod-app\r\n\r\n`);
  const buf = new Uint8Array(16 * 1024);
  for (let i = 0; i < n; i++) {
    await conn.write(req);
    let text = "";
    for (;;) {
      const got = await conn.read(buf);
      if (got === null) throw new Error(`connection closed after ${i} responses`);
      text += new TextDecoder().decode(buf.subarray(0, got));
      const head = text.indexOf("\r\n\r\n");
      const len = /content-length: (\d+)/i.exec(text);
      if (head >= 0 && len && text.length >= head + 4 + Number(len[1])) break;
    }
    if (!text.startsWith("HTTP/1.1 200")) throw new Error(`response ${i}: ${text.slice(0, 40)}`);
    console.log(`ok ${i}`);
    await new Promise((r) => setTimeout(r, ms));
  }
  conn.close();
}

async function hbone(caDir: string, ns: string, sa: string, podIp: string, port: number): Promise<string> {
  const { BuiltinCa } = await import("../../lib/identity/builtin_ca.ts");
  const ca = await BuiltinCa.load(caDir);
  const cert = await ca.sign({ trustDomain: "cluster.local", namespace: ns, serviceAccount: sa }, 600_000);
  const session = http2.connect(`https://${podIp}:15008`, {
    key: cert.keyPem,
    cert: cert.certChainPem.join("\n"),
    ca: cert.rootsPem,
    checkServerIdentity: () => undefined,
    ALPNProtocols: ["h2"],
  });
  try {
    return await new Promise<string>((resolve, reject) => {
      session.on("error", reject);
      const req = session.request({ ":method": "CONNECT", ":authority": `${podIp}:${port}` }, {
        endStream: false,
      });
      const parts: Buffer[] = [];
      req.on("response", (h) => {
        if (h[":status"] !== 200) reject(new Error(`CONNECT status ${h[":status"]}`));
        else req.end(REQUEST(`${podIp}:${port}`));
      });
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("end", () => resolve(Buffer.concat(parts).toString()));
      req.on("error", reject);
      setTimeout(() => reject(new Error("timeout")), 5000);
    });
  } finally {
    session.close();
  }
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  try {
    if (mode === "serve") await serve(args[0], Number(args[1]));
    else if (mode === "get") console.log(await get(args[0]));
    else if (mode === "keepalive") await keepalive(args[0], Number(args[1]), Number(args[2]));
    else if (mode === "hbone") console.log(await hbone(args[0], args[1], args[2], args[3], Number(args[4])));
    else throw new Error(`unknown mode ${mode}`);
    Deno.exit(0);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
