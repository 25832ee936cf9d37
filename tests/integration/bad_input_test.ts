/**
 * Bad input never crashes a node nor disturbs other connections: garbage on the HBONE port, TLS with a
 * mesh certificate but no HTTP/2, broken SOCKS5 handshakes. Each is refused, logged and counted, and a
 * live tunnel opened before keeps flowing.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { startEchoServer } from "../fakes/echo_server.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import { tlsOptions } from "../../lib/tunnel/tls.ts";
import { scrape } from "../fakes/prometheus_scrape.ts";

const NODE = { name: "node-a", ip: "127.13.0.1" };
const POD = "127.13.1.1";
const APP = "127.13.1.2";

async function sendAndWaitClose(ip: string, port: number, data: Uint8Array): Promise<void> {
  const c = await Deno.connect({ hostname: ip, port });
  await c.write(data).catch(() => 0);
  await c.closeWrite().catch(() => {});
  const buf = new Uint8Array(1024);
  try {
    while ((await c.read(buf)) !== null) { /* drain until the node closes */ }
  } catch { /* reset */ }
  c.close();
}

async function socksRaw(bytes: number[][]): Promise<number[]> {
  const c = await Deno.connect({ hostname: POD, port: 15080 });
  const got: number[] = [];
  const buf = new Uint8Array(64);
  try {
    for (const b of bytes) await c.write(new Uint8Array(b));
    await c.closeWrite(); // a client that gives up mid-handshake
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      got.push(...buf.subarray(0, n));
    }
  } catch { /* reset */ }
  c.close();
  return got;
}

Deno.test("bad input is refused, logged and counted; the node and its live tunnels carry on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-bad-input-" });
  const mesh = {
    workloads: [
      {
        name: "client",
        namespace: "ns",
        serviceAccount: "client",
        workloadIps: [POD],
        protocol: "HBONE",
        node: NODE.name,
      },
      {
        name: "app",
        namespace: "ns",
        serviceAccount: "app",
        workloadIps: [APP],
        protocol: "HBONE",
        node: NODE.name,
      },
    ],
  };
  const { caDir, configPath } = await writeMeshFiles(dir, mesh);
  const echo = startEchoServer(APP, 7000);
  const node = await startNode({ ...NODE, caDir, configPath });
  try {
    // A tunnel that stays open across all of the abuse below.
    const live = await socks5Connect({ ip: POD, port: 15080 }, APP, 7000);
    assert.equal(live.reply, 0);
    await live.conn.write(new Uint8Array([1]));
    assert.equal(await live.conn.read(new Uint8Array(8)), 1);

    // Not TLS at all on the HBONE port.
    await sendAndWaitClose(APP, 15008, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    // TLS with a valid mesh certificate, then garbage instead of the HTTP/2 preface.
    const cert = await (await BuiltinCa.load(caDir)).sign({
      trustDomain: "cluster.local",
      namespace: "ns",
      serviceAccount: "x",
    }, 60_000);
    await new Promise<void>((resolve) => {
      const s = tls.connect({
        ...tlsOptions(cert),
        host: APP,
        port: 15008,
        checkServerIdentity: () => undefined,
      }, () => {
        s.write("this is not HTTP/2 at all, not even close................");
      });
      s.on("close", () => resolve());
      s.on("error", () => {});
      s.resume();
    });
    // SOCKS5: wrong version, unsupported command, unknown address type, truncated request.
    assert.deepEqual(await socksRaw([[4, 1, 0, 80, 127, 0, 0, 1, 0]]), []);
    assert.deepEqual((await socksRaw([[5, 1, 0], [5, 2, 0, 1, 127, 0, 0, 1, 0, 80]])).slice(2, 4), [5, 7]);
    assert.deepEqual((await socksRaw([[5, 1, 0], [5, 1, 0, 9, 1, 2]])).slice(2, 4), [5, 8]);
    assert.deepEqual(await socksRaw([[5, 1, 0], [5, 1]]), [5, 0]);

    // The live tunnel still echoes, a new one works, and the refusals are counted.
    await live.conn.write(new Uint8Array([2, 3]));
    const b = new Uint8Array(8);
    let n = 0;
    while (n < 2) n += (await live.conn.read(b.subarray(n))) ?? 0;
    assert.deepEqual([...b.subarray(0, 2)], [2, 3]);
    live.conn.close();
    const fresh = await socks5Connect({ ip: POD, port: 15080 }, APP, 7000);
    assert.deepEqual(await roundTrip(fresh.conn, new Uint8Array([9, 9])), new Uint8Array([9, 9]));
    const metrics = await scrape(NODE.ip);
    const count = (listener: string, kind: string) =>
      metrics.sum("zt_rejected_connections_total", { listener, kind });
    assert.ok(count("hbone", "tls") >= 1, "non-TLS bytes on 15008 counted");
    assert.ok(count("hbone", "h2_protocol") >= 1, "garbage after TLS counted (a bad preface)");
    assert.ok(count("socks5", "handshake") >= 4, "bad SOCKS5 handshakes counted");
    await node.waitForLog((l) => l.message === "hbone connection dropped" && l.reason === "protocol");
  } finally {
    const code = await node.stop();
    await echo.close();
    await Deno.remove(dir, { recursive: true });
    assert.equal(code, 0);
  }
});
