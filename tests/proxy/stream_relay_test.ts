/**
 * StreamRelay: a real TCP app behind a real HTTP/2 stream (zt's H2Session on both ends of a loopback
 * node:net connection). Bytes exact both ways, half-close carried, prefix first, a reset is a reset.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import { readAll } from "../fakes/h2_streams.ts";
import { DEFAULT_H2_OPTIONS, H2Session } from "../../lib/tunnel/h2/session.ts";
import type { H2Stream } from "../../lib/tunnel/h2/stream.ts";
import { ErrorCode } from "../../lib/tunnel/h2/frame.ts";
import { RelayCounter } from "../../lib/proxy/relay_counts.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import { StreamRelay } from "../../lib/proxy/stream_relay.ts";

const HOST = "127.0.0.1";

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

/** An H2 client/server pair over loopback TCP; the server relays each stream to `app`. */
async function h2Pair(app: Deno.NetAddr, prefix?: Uint8Array) {
  const results: Array<Promise<{ error: unknown; counts: RelayCounter }>> = [];
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    const session = new H2Session(sock, "server", DEFAULT_H2_OPTIONS);
    session.onStream = (stream: H2Stream) => {
      results.push((async () => {
        const conn = await hostFactory().connectTcp({ ip: app.hostname, port: app.port });
        session.respond(stream, [[":status", "200"]], false);
        const counts = new RelayCounter(false);
        const error = await new Promise<unknown>((done) =>
          new StreamRelay(conn, stream, counts, done).start(prefix)
        );
        return { error, counts };
      })());
    };
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect({ host: HOST, port });
  await new Promise((r) => sock.once("connect", r));
  const client = new H2Session(sock, "client", DEFAULT_H2_OPTIONS);
  const open = async () => {
    const s = client.request([[":method", "CONNECT"], [":authority", `${app.hostname}:${app.port}`]]);
    const h = await s.response!;
    assert.deepEqual(h.find(([k]) => k === ":status"), [":status", "200"]);
    return s;
  };
  const close = async () => {
    client.close();
    await client.closed;
    await new Promise((r) => server.close(r));
  };
  return { open, results, close };
}

/** A TCP app: echo (half-close after the peer's FIN), or a custom handler. */
function app(handler: (c: Deno.Conn) => Promise<void>) {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const served: Promise<void>[] = [];
  (async () => {
    for await (const c of l) served.push(handler(c).catch(() => {}).finally(() => c.close()));
  })();
  let closed = false;
  return {
    addr: l.addr as Deno.NetAddr,
    async close() {
      if (!closed) l.close();
      closed = true;
      await Promise.all(served);
    },
  };
}

async function echo(c: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (let n; (n = await c.read(buf)) !== null;) {
    for (let o = 0; o < n;) o += await c.write(buf.subarray(o, n));
  }
  await c.closeWrite();
}

Deno.test("stream relay: 8 MiB echo, byte-exact, half-close both ways, counts exact", async () => {
  const a = app(echo);
  const p = await h2Pair(a.addr);
  try {
    const s = await p.open();
    const data = pattern(8 << 20, 3);
    const back = readAll(s);
    await s.writeBytes(data);
    s.end();
    assert.ok(Buffer.compare(await back, data) === 0);
    const r = await p.results[0];
    assert.equal(r.error, undefined);
    assert.equal(r.counts.fromStream, data.length, "bytes stream → app");
    assert.equal(r.counts.fromConn, data.length, "bytes app → stream");
  } finally {
    await p.close();
    await a.close();
  }
});

Deno.test("stream relay: the prefix reaches the stream before the socket's bytes", async () => {
  const a = app(async (c) => {
    await c.write(new TextEncoder().encode(" world"));
    await c.closeWrite();
    await c.read(new Uint8Array(1));
  });
  const p = await h2Pair(a.addr, new TextEncoder().encode("hello"));
  try {
    const s = await p.open();
    const back = readAll(s);
    s.end();
    assert.equal(new TextDecoder().decode(await back), "hello world");
    const r = await p.results[0];
    assert.equal(r.error, undefined);
    assert.equal(r.counts.fromConn, 11);
  } finally {
    await p.close();
    await a.close();
  }
});

Deno.test("stream relay: a peer reset ends the relay with an error and resets the app socket (no FIN)", async () => {
  let appSaw: "eof" | "data" | "error" | undefined;
  const a = app(async (c) => {
    try {
      const n = await c.read(new Uint8Array(16));
      appSaw = n === null ? "eof" : "data";
      if (n !== null) appSaw = (await c.read(new Uint8Array(16))) === null ? "eof" : "data";
    } catch {
      appSaw = "error";
    }
  });
  const p = await h2Pair(a.addr);
  try {
    const s = await p.open();
    await s.writeBytes(new Uint8Array([1, 2, 3]));
    s.reset(ErrorCode.CONNECT_ERROR); // what a zt relay sends when its TCP side failed
    const r = await p.results[0];
    assert.ok(r.error instanceof Error, `done with an error, got ${r.error}`);
    await a.close();
    assert.equal(appSaw, "error", "the app sees a reset, not a clean end of stream");
  } finally {
    await p.close();
    await a.close();
  }
});

Deno.test("stream relay: RST_STREAM(CANCEL) after the data ends the app's side cleanly (as ztunnel reads it)", async () => {
  let appGot = 0;
  let appSaw: "eof" | "error" | undefined;
  const a = app(async (c) => {
    const buf = new Uint8Array(1 << 16);
    try {
      for (let n; (n = await c.read(buf)) !== null;) appGot += n;
      appSaw = "eof";
    } catch {
      appSaw = "error";
    }
  });
  const p = await h2Pair(a.addr);
  try {
    const s = await p.open();
    await s.writeBytes(pattern(100_000, 9));
    s.reset(ErrorCode.CANCEL);
    const r = await p.results[0];
    await a.close();
    assert.equal(appSaw, "eof");
    assert.equal(appGot, 100_000, "every byte before the CANCEL reached the app");
    assert.equal(r.error, undefined);
  } finally {
    await p.close();
    await a.close();
  }
});
