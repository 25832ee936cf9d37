/**
 * Measures the cost of knowing a captured connection's original destination, inside namespaces:
 *   server PORT N   listens on 0.0.0.0:PORT, made transparent as capture_listeners.ts does; accepts N
 *                   connections, answers each with its `localAddr`, times that read; with all N still
 *                   open, times one full fd scan (what REDIRECT + SO_ORIGINAL_DST needs per connection);
 *                   prints one JSON line
 *   client N PORT   opens N connections to N different destinations 10.96.250.x:PORT+k, checks each
 *                   answer names its own destination; prints one JSON line
 */
import { TransparentSockets } from "../../lib/proxy/transparent_socket.ts";

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
  const l = Deno.listen({ hostname: "0.0.0.0", port });
  const ts = TransparentSockets.open();
  ts.makeListenerTransparent({ hostname: "0.0.0.0", port });
  console.log("ready");
  const conns: Deno.Conn[] = [];
  const readUs: number[] = [];
  const enc = new TextEncoder();
  const start = performance.now();
  while (conns.length < n) {
    const c = await l.accept();
    const t0 = performance.now();
    const dst = c.localAddr as Deno.NetAddr;
    readUs.push((performance.now() - t0) * 1000);
    await c.write(enc.encode(`${dst.hostname}:${dst.port}\n`));
    conns.push(c);
  }
  const acceptMs = performance.now() - start;
  // REDIRECT would have to find each new connection's fd, the newest and highest: a scan over every
  // open fd. Timed here as a scan that matches nothing.
  const s0 = performance.now();
  try {
    ts.findListenerFd({ hostname: "0.0.0.0", port: 1 });
  } catch { /* expected: nothing there */ }
  const scanUs = (performance.now() - s0) * 1000;
  readUs.sort((a, b) => a - b);
  const mean = readUs.reduce((a, b) => a + b, 0) / readUs.length;
  console.log(JSON.stringify({
    connections: n,
    localAddrReadUs: { mean, p50: readUs[n >> 1], p99: readUs[Math.floor(n * 0.99)] },
    acceptedPerSecond: Math.round(n / (acceptMs / 1000)),
    fullFdScanUsWithAllOpen: Math.round(scanUs),
  }));
  for (const c of conns) c.close();
  l.close();
  ts.close();
}

async function client(n: number, port: number): Promise<void> {
  const conns: Deno.Conn[] = [];
  let wrong = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const want = `10.96.250.${1 + (i % 250)}:${port + Math.floor(i / 250)}`;
    const [host, p] = want.split(":");
    const c = await Deno.connect({ hostname: host, port: Number(p) });
    if ((await readLine(c)) !== want) wrong++;
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
