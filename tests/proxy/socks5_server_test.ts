/** A stalled SOCKS5 handshake is cut at the deadline, refused and counted; the listener keeps serving. */
import assert from "node:assert/strict";
import { Socks5Server } from "../../lib/proxy/socks5_server.ts";
import type { OutboundProxy } from "../../lib/proxy/outbound.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { hostFactory } from "../fakes/socket_kit.ts";

Deno.test("socks5: a client that stalls mid-handshake is closed after the handshake timeout", async () => {
  const rejected: string[] = [];
  const server = new Socks5Server({
    listener: hostFactory().listenTcp({ ip: "127.0.0.1", port: 0 }),
    source: () => undefined,
    context: { factory: hostFactory(), podUid: "none" },
    outbound: {} as OutboundProxy, // never reached: the handshake does not complete
    resolveName: () => Promise.resolve([]),
    log: silentLogger(),
    onRejected: (r) => rejected.push(r),
    handshakeTimeoutMs: 200,
  });
  server.listen();
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: server.address!.port });
    await c.write(new Uint8Array([5, 1, 0]));
    const buf = new Uint8Array(8);
    assert.equal(await c.read(buf), 2);
    await c.write(new Uint8Array([5, 1])); // then nothing more
    const t0 = performance.now();
    const n = await c.read(buf).catch(() => null);
    const waited = performance.now() - t0;
    c.close();
    assert.equal(n, null, "the node closed the stalled connection");
    assert.ok(waited >= 150 && waited < 5000, `closed after ${waited} ms`);
    assert.equal(rejected.length, 1);
  } finally {
    server.close();
  }
});
