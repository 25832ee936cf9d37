/**
 * Checks that a TPROXY'd connection's own address is its original destination, inside namespaces:
 *   server PORT N   listens on 0.0.0.0:PORT through zt's socket factory with IP_TRANSPARENT, as
 *                   capture_listeners.ts does; accepts N connections, answers each with its local
 *                   address (getsockname on the accepted fd), times that read; prints one JSON line
 *   client N PORT   opens N connections to N different destinations 10.96.250.x:PORT+k, checks each
 *                   answer names its own destination; prints one JSON line
 */
import { Libc } from "../../lib/net/libc.ts";
import { Readiness } from "../../lib/net/readiness.ts";
import { SocketFactory } from "../../lib/net/socket_factory.ts";
import { localAddress } from "../../lib/net/socket_info.ts";

async function readLine(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(128);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text.trim();
}

async function server(port: number, n: number): Promise<void> {
  const libc = Libc.open();
  const readiness = new Readiness(libc);
  const factory = new SocketFactory({ libc, readiness });
  const l = factory.listenTcp({ ip: "0.0.0.0", port }, { transparent: "require" });
  console.log("ready");
  const readUs: number[] = [];
  const start = performance.now();
  const kept: Array<{ destroy(): void }> = [];
  let answered = 0;
  await new Promise<void>((resolve) => {
    l.serve({
      onConnection: ({ socket, fd }) => {
        const t0 = performance.now();
        const dst = localAddress(libc, fd);
        readUs.push((performance.now() - t0) * 1000);
        kept.push(socket);
        socket.write(`${dst?.ip}:${dst?.port}\n`, () => {
          if (++answered === n) resolve();
        });
      },
    });
  });
  const acceptMs = performance.now() - start;
  readUs.sort((a, b) => a - b);
  const mean = readUs.reduce((a, b) => a + b, 0) / readUs.length;
  console.log(JSON.stringify({
    connections: n,
    localAddrReadUs: { mean, p50: readUs[n >> 1], p99: readUs[Math.floor(n * 0.99)] },
    acceptedPerSecond: Math.round(n / (acceptMs / 1000)),
  }));
  for (const c of kept) c.destroy();
  l.close();
  readiness.close();
}

async function client(n: number, port: number): Promise<void> {
  const conns: Deno.Conn[] = [];
  let wrong = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const want = `10.96.250.${1 + (i % 250)}:${port + Math.floor(i / 250)}`;
    const [host, p] = want.split(":");
    const c = await Deno.connect({ hostname: host, port: Number(p) });
    const got = await readLine(c);
    if (got !== want) {
      wrong++;
      console.error(`connection ${i}: wanted ${want}, got "${got}"`);
    }
    conns.push(c);
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ connections: n, wrong, connectAndAnswerUsMean: (ms * 1000) / n }));
  for (const c of conns) c.close();
}

if (import.meta.main) {
  const [mode, a, b] = Deno.args;
  if (mode === "server") await server(Number(a), Number(b));
  else await client(Number(a), Number(b));
}
