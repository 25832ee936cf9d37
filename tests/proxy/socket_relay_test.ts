/**
 * SocketRelay: two real TCP connections relayed through node:net sockets from zt's socket factory.
 * Bytes exact both ways with half-close; when one side resets, the other is reset too (a truncated
 * stream never ends with a clean FIN).
 */
import assert from "node:assert/strict";
import type net from "node:net";
import { SocketRelay } from "../../lib/proxy/socket_relay.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import { resetSocket } from "../../lib/net/socket_info.ts";

const HOST = "127.0.0.1";

/** A client connection whose accepted side and an upstream connection to `app` are relayed. */
async function relayed(appHandler: (c: net.Socket) => void) {
  const f = hostFactory();
  const app = f.listenTcp({ ip: HOST, port: 0 });
  app.serve({ onConnection: ({ socket }) => appHandler(socket) });
  const front = f.listenTcp({ ip: HOST, port: 0 });
  let done!: (e: Error | undefined) => void;
  const finished = new Promise<Error | undefined>((r) => (done = r));
  const counts = { sent: 0, recv: 0 };
  let accepted!: net.Socket;
  front.serve({
    onConnection: async ({ socket }) => {
      accepted = socket;
      const upstream = await f.connectTcp(app.address);
      new SocketRelay(socket, upstream, counts, done).start();
    },
  });
  const client = await Deno.connect({ hostname: HOST, port: front.address.port });
  return {
    client,
    finished,
    counts,
    accepted: () => accepted,
    close: () => {
      front.close();
      app.close();
    },
  };
}

async function drain(c: Deno.Conn): Promise<{ bytes: number; reset: boolean }> {
  const buf = new Uint8Array(65536);
  let bytes = 0;
  try {
    for (let n; (n = await c.read(buf)) !== null;) bytes += n;
    return { bytes, reset: false };
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionReset) return { bytes, reset: true };
    throw e;
  }
}

Deno.test("socket relay: 4 MiB each way, half-close both ways, counts exact", async () => {
  const r = await relayed((c) => c.pipe(c)); // echo, FIN after the peer's
  try {
    const data = new Uint8Array(4 << 20).map((_, i) => i * 7);
    const reading = drain(r.client);
    for (let o = 0; o < data.length;) o += await r.client.write(data.subarray(o, o + 65536));
    await r.client.closeWrite();
    assert.deepEqual(await reading, { bytes: data.length, reset: false });
    assert.equal(await r.finished, undefined);
    assert.deepEqual(r.counts, { sent: data.length, recv: data.length });
  } finally {
    r.client.close();
    r.close();
  }
});

Deno.test("socket relay: the upstream resets mid-stream → the client is reset, not cleanly closed", async () => {
  // The app sends part of a response, then crashes (its connection is reset).
  const r = await relayed((c) => c.write(new Uint8Array(1000), () => setTimeout(() => resetSocket(c), 30)));
  try {
    const got = await drain(r.client);
    assert.equal(got.reset, true, "the client sees ECONNRESET, not a clean end");
    assert.ok((await r.finished) instanceof Error);
  } finally {
    r.client.close();
    r.close();
  }
});
