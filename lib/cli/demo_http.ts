/** The demo's tiny HTTP pieces: an httpbin stand-in that names its replica, and curl --socks5-hostname. */
import { errorMessage } from "../error.ts";

export function startHttpbin(name: string, ip: string, port: number): { close(): Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: ip, port, signal: ac.signal, onListen: () => {} },
    () => new Response(`<title>httpbin.org</title>\n`, { headers: { "x-served-by": name } }),
  );
  return {
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

export interface HttpResult {
  readonly status?: number;
  readonly servedBy?: string;
  readonly error?: string;
}

/** `curl --socks5-hostname <podIP>:15080 http://<host>:<port>/` with a SOCKS5 domain target. */
export async function httpViaSocks5(podIp: string, host: string, port: number): Promise<HttpResult> {
  let conn: Deno.Conn | undefined;
  try {
    conn = await Deno.connect({ hostname: podIp, port: 15080 });
    await conn.write(new Uint8Array([5, 1, 0]));
    await readN(conn, 2);
    const name = new TextEncoder().encode(host);
    await conn.write(new Uint8Array([5, 1, 0, 3, name.length, ...name, port >> 8, port & 255]));
    const head = await readN(conn, 10);
    if (head[1] !== 0) {
      return { error: `SOCKS5 reply 0x0${head[1].toString(16)} (${REPLY[head[1]] ?? "error"})` };
    }
    await conn.write(
      new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`),
    );
    const text = await readAll(conn);
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
    const servedBy = /x-served-by: (\S+)/i.exec(text)?.[1];
    if (!status) return { error: "connection closed without a response (exit code 56)" };
    return { status, servedBy };
  } catch (e) {
    return { error: errorMessage(e) };
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

const REPLY: Record<number, string> = {
  1: "general failure",
  2: "not allowed by ruleset",
  4: "host unreachable",
  5: "connection refused",
};

async function readN(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error("connection closed");
    off += got;
  }
  return out;
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return text;
}
