/**
 * H2Stream.write's `flushed` callback: called once the transport has let go of the buffer, so the
 * writer may reuse it. Reusing it right after the callback must not change what the peer receives.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import { readAll } from "../../fakes/h2_streams.ts";
import { DEFAULT_H2_OPTIONS, H2Session } from "../../../lib/tunnel/h2/session.ts";
import type { H2Stream } from "../../../lib/tunnel/h2/stream.ts";
import { FRAME_HEADER_SIZE } from "../../../lib/tunnel/h2/frame.ts";

Deno.test("h2 stream: flushed fires once per write; overwriting the buffer afterwards is safe", async () => {
  let received: Promise<Uint8Array> | undefined;
  const server = net.createServer((sock) => {
    const s = new H2Session(sock, "server", DEFAULT_H2_OPTIONS);
    s.onStream = (stream: H2Stream) => {
      s.respond(stream, [[":status", "200"]], false);
      received = readAll(stream);
    };
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const sock = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port });
  await new Promise((r) => sock.once("connect", r));
  const client = new H2Session(sock, "client", DEFAULT_H2_OPTIONS);
  try {
    const stream = client.request([[":method", "CONNECT"], [":authority", "127.0.0.1:1"]]);
    await stream.response;
    // One buffer, written 32 times (256 KiB each): refilled only after `flushed`.
    const size = 256 * 1024;
    const buf = new Uint8Array(FRAME_HEADER_SIZE + size);
    const expected = new Uint8Array(32 * size);
    let flushedCount = 0;
    for (let i = 0; i < 32; i++) {
      buf.fill(i + 1, FRAME_HEADER_SIZE);
      expected.fill(i + 1, i * size, (i + 1) * size);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => stream.write(buf, size, () => (flushedCount++, r()))),
        new Promise((
          _,
          no,
        ) => (timer = setTimeout(() => no(new Error(`write ${i}: flushed never came`)), 5000))),
      ]).finally(() => clearTimeout(timer));
    }
    stream.end();
    const got = await received!;
    assert.equal(flushedCount, 32);
    assert.ok(Buffer.compare(got, expected) === 0, "the peer got every write's own bytes");
  } finally {
    client.close();
    await client.closed;
    await new Promise((r) => server.close(r));
  }
});
