/**
 * The apps that run inside another process's network namespace (`ip netns exec <ns> deno run -A
 * digest_app.ts ...`), e.g. next to a dedicated-mode ztunnel, whose SOCKS5 entry and inbound target are
 * on that namespace's addresses. Each prints JSON lines on stdout:
 *   serve IP PORT                        a digest echo server (digest_server.ts): `{"ready":true}`, then
 *                                        one DigestRecord per finished connection; ends on SIGTERM
 *   socks5 PROXY HOST PORT BYTES SEED    CONNECT through the SOCKS5 proxy PROXY (ip:port), send BYTES of
 *                                        pattern(BYTES, SEED), half-close, read to EOF, then print
 *                                        `{reply, sent, sentSha256, received, receivedSha256, error?}`
 */
import { createHash } from "node:crypto";
import { startDigestServer } from "./digest_server.ts";
import { pattern } from "./mesh_config.ts";
import { roundTrip, socks5Connect } from "./socks5_client.ts";

export interface Socks5Result {
  readonly reply: number;
  readonly sent: number;
  readonly sentSha256: string;
  readonly received: number;
  readonly receivedSha256: string;
  readonly error?: string;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function serve(ip: string, port: number): Promise<void> {
  const server = startDigestServer(ip, port, { kind: "echo" });
  const stop = new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", () => resolve()));
  console.log(JSON.stringify({ ready: true }));
  let n = 0;
  const report = (async () => {
    for (;;) {
      const rec = await server.finished(n, 24 * 3600_000);
      console.log(JSON.stringify({ connection: n++, ...rec }));
    }
  })();
  report.catch(() => {});
  await stop;
  await server.close();
}

async function socks5(proxy: string, host: string, port: number, bytes: number, seed: number) {
  const i = proxy.lastIndexOf(":");
  const data = pattern(bytes, seed);
  const base = {
    sent: 0,
    sentSha256: sha256(new Uint8Array()),
    received: 0,
    receivedSha256: sha256(new Uint8Array()),
  };
  let reply = -1;
  try {
    const c = await socks5Connect({ ip: proxy.slice(0, i), port: Number(proxy.slice(i + 1)) }, host, port);
    reply = c.reply;
    if (c.reply !== 0) return { ...base, reply };
    const got = await roundTrip(c.conn, data);
    return {
      reply,
      sent: data.length,
      sentSha256: sha256(data),
      received: got.length,
      receivedSha256: sha256(got),
    };
  } catch (e) {
    return { ...base, reply, error: e instanceof Error ? e.message : String(e) };
  }
}

if (import.meta.main) {
  const [mode, ...a] = Deno.args;
  if (mode === "serve") await serve(a[0], Number(a[1]));
  else if (mode === "socks5") {
    console.log(JSON.stringify(await socks5(a[0], a[1], Number(a[2]), Number(a[3]), Number(a[4]))));
  } else {
    console.error(`unknown mode ${mode} (serve | socks5)`);
    Deno.exit(2);
  }
  Deno.exit(0);
}
