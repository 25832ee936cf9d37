/**
 * H2Session header blocks: CONTINUATION sequences, the block's byte and frame caps (checked as frames
 * arrive), the decoded list cap, HPACK size-update budget, malformed requests, and dispatch only after
 * the chunk is parsed.
 */
import assert from "node:assert/strict";
import { ErrorCode, Flag, FrameType } from "../../../lib/tunnel/h2/frame.ts";
import { frame, join, serverHarness, shut, u32 } from "./h2_test_peer.ts";

const ENHANCE_YOUR_CALM = ErrorCode.ENHANCE_YOUR_CALM;

Deno.test("h2 headers: a block split over HEADERS + CONTINUATION frames (any chunking) opens one stream", async () => {
  const h = serverHarness();
  const block = h.peer.encoder.encode([[":method", "CONNECT"], [":authority", "10.1.2.3:8080"], [
    "x-a",
    "b",
  ]]);
  const wire = join([
    frame(FrameType.HEADERS, 0, 1, block.subarray(0, 5)),
    frame(FrameType.CONTINUATION, 0, 1, block.subarray(5, 9)),
    frame(FrameType.CONTINUATION, 0, 1, []),
    frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(9)),
  ]);
  for (let i = 0; i < wire.length; i += 7) h.socket.deliver(wire.subarray(i, i + 7)); // 7-byte chunks
  assert.equal(h.dispatched.length, 1);
  assert.deepEqual(h.dispatched[0].requestHeaders, [[":method", "CONNECT"], [":authority", "10.1.2.3:8080"], [
    "x-a",
    "b",
  ]]);
  assert.equal(h.peer.goaway(), undefined);
  await shut(h);
});

Deno.test("h2 headers: a frame between HEADERS and its CONTINUATION is a PROTOCOL_ERROR", async () => {
  const h = serverHarness();
  const block = h.peer.encoder.encode([[":method", "CONNECT"], [":authority", "a:1"]]);
  h.peer.send(
    frame(FrameType.HEADERS, 0, 1, block.subarray(0, 3)),
    frame(FrameType.PING, 0, 0, new Uint8Array(8)),
  );
  assert.equal(h.peer.goaway()?.code, ErrorCode.PROTOCOL_ERROR);
  assert.deepEqual(h.violations.map(([k]) => k), ["protocol"]);
  assert.equal(h.dispatched.length, 0);
  await shut(h);
});

Deno.test("h2 headers: CONTINUATION on another stream, or with no open block, is a PROTOCOL_ERROR", async () => {
  for (
    const wire of [[frame(FrameType.HEADERS, 0, 1, [0x82]), frame(FrameType.CONTINUATION, 4, 3, [])], [
      frame(FrameType.CONTINUATION, 4, 1, [0x82]),
    ]]
  ) {
    const h = serverHarness();
    h.peer.send(...wire);
    assert.equal(h.peer.goaway()?.code, ErrorCode.PROTOCOL_ERROR);
    await shut(h);
  }
});

Deno.test("h2 headers: endless CONTINUATION frames are cut off at maxContinuationFrames (CVE-2024-27316)", async () => {
  const h = serverHarness({ maxContinuationFrames: 5 });
  h.peer.send(frame(FrameType.HEADERS, 0, 1, [0x82]));
  for (let i = 0; i < 5; i++) h.peer.send(frame(FrameType.CONTINUATION, 0, 1, []));
  assert.equal(h.peer.goaway(), undefined, "5 CONTINUATION frames are allowed");
  h.peer.send(frame(FrameType.CONTINUATION, 0, 1, []));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(h.violations.map(([k]) => k), ["continuation_flood"]);
  assert.ok(h.socket.ended || h.socket.destroyed, "the connection is going");
  // Whatever else the peer sends is not read any more.
  h.peer.send(frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(1000)));
  assert.equal(h.violations.length, 1, "reported once per connection");
  await shut(h);
});

Deno.test("h2 headers: a block is refused as soon as its bytes pass maxHeaderBlockSize, before END_HEADERS", async () => {
  const h = serverHarness({ maxHeaderBlockSize: 4096, maxContinuationFrames: 1000 });
  h.peer.send(frame(FrameType.HEADERS, 0, 1, new Uint8Array(1000)));
  for (let i = 0; i < 3; i++) h.peer.send(frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(1000)));
  assert.equal(h.peer.goaway(), undefined, "4000 bytes are fine");
  h.peer.send(frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(97)));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(h.violations.map(([k]) => k), ["header_block_too_large"]);
  await shut(h);
  // A single HEADERS frame over the cap, too.
  const h2 = serverHarness({ maxHeaderBlockSize: 100 });
  h2.peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, new Uint8Array(101)));
  assert.deepEqual(h2.violations.map(([k]) => k), ["header_block_too_large"]);
  await shut(h2);
});

Deno.test("h2 headers: a decoded list over maxHeaderListSize ends the connection (ENHANCE_YOUR_CALM)", async () => {
  const h = serverHarness({ maxHeaderListSize: 8192, maxHeaderBlockSize: 8192 });
  // One 4000-byte entry in the dynamic table, then a block of one-byte references to it.
  const enc = new TextEncoder();
  const insert = [0x40, 1, ...enc.encode("x"), 0x7f, 4000 - 127 & 0x7f | 0x80, (4000 - 127) >> 7];
  const value = new Uint8Array(4000).fill(0x61);
  const block = new Uint8Array([0x82, 0x86, ...insert, ...value, 0xbe, 0xbe, 0xbe, 0xbe]);
  h.peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, block));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(h.violations.map(([k]) => k), ["header_list_too_large"]);
  assert.equal(h.dispatched.length, 0);
  await shut(h);
});

Deno.test("h2 headers: HPACK dynamic table size updates draw on the glitch budget", async () => {
  const h = serverHarness({ glitchBurst: 10, glitchRatePerSecond: 0 });
  const updates = new Array(11).fill(0x20); // eleven "size 0" updates, then :method GET
  h.peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, [...updates, 0x82]));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(h.violations.map(([k]) => k), ["glitch_flood"]);
  await shut(h);
});

Deno.test("h2 headers: malformed requests are reset with PROTOCOL_ERROR and never reach onStream", async () => {
  const h = serverHarness();
  const cases: Array<Array<[string, string]>> = [
    [[":authority", "a:1"]], // no :method
    [[":method", "CONNECT"]], // CONNECT without :authority
    [[":method", "CONNECT"], [":authority", "a:1"], [":path", "/"]], // CONNECT with :path
    [[":method", "GET"], [":scheme", "http"], [":authority", "a"]], // no :path
    [[":method", "CONNECT"], ["x", "1"], [":authority", "a:1"]], // pseudo after regular
    [[":method", "CONNECT"], [":authority", "a:1"], [":status", "200"]], // response pseudo
    [[":method", "CONNECT"], [":method", "CONNECT"], [":authority", "a:1"]], // duplicate
    [[":method", "CONNECT"], [":authority", "a:1"], ["connection", "close"]], // connection-specific
    [[":method", "CONNECT"], [":authority", "a:1"], ["te", "gzip"]],
    [[":method", "CONNECT"], [":authority", "a:1"], ["X-Upper", "1"]],
  ];
  let id = 1;
  for (const c of cases) {
    // The encoder refuses uppercase names: build that block by hand.
    const block = c.some(([n]) => n !== n.toLowerCase())
      ? new Uint8Array([
        ...h.peer.encoder.encode(c.slice(0, 2)),
        0x00,
        7,
        ...new TextEncoder().encode("X-Upper"),
        1,
        0x31,
      ])
      : h.peer.encoder.encode(c);
    h.peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS, id, block));
    id += 2;
  }
  assert.equal(h.dispatched.length, 0);
  assert.deepEqual(h.peer.rsts(), cases.map((_, i) => [1 + 2 * i, ErrorCode.PROTOCOL_ERROR]));
  assert.equal(h.peer.goaway(), undefined, "stream errors only");
  await shut(h);
});

Deno.test("h2 headers: a stream reset in the same chunk that opened it never reaches onStream", async () => {
  const h = serverHarness();
  const rst = (id: number) => frame(FrameType.RST_STREAM, 0, id, u32(ErrorCode.CANCEL));
  h.peer.send(h.peer.request(1), rst(1), h.peer.request(3), h.peer.request(5), rst(5));
  assert.deepEqual(h.dispatched.map((s) => s.id), [3], "only the stream still open after the chunk");
  // Across chunks the stream is handed over first (its reset then counts against the budget).
  h.peer.send(h.peer.request(7));
  h.peer.send(rst(7));
  assert.deepEqual(h.dispatched.map((s) => s.id), [3, 7]);
  assert.equal(h.dispatched[1].peerResetCode, ErrorCode.CANCEL, "the handed-over stream learns it was reset");
  assert.ok(h.dispatched[1].isClosed);
  await shut(h);
});

Deno.test("h2 headers: streams over maxConcurrentStreams are refused (REFUSED_STREAM)", async () => {
  const h = serverHarness({ maxConcurrentStreams: 2 });
  h.peer.send(h.peer.request(1), h.peer.request(3), h.peer.request(5));
  assert.deepEqual(h.dispatched.map((s) => s.id), [1, 3]);
  assert.deepEqual(h.peer.rsts(), [[5, ErrorCode.REFUSED_STREAM]]);
  await shut(h);
});

Deno.test("h2 headers: stream ids must rise; HEADERS on a closed stream is STREAM_CLOSED", async () => {
  const h = serverHarness();
  h.peer.send(h.peer.request(5));
  h.peer.send(h.peer.request(3));
  assert.equal(h.peer.goaway()?.code, ErrorCode.PROTOCOL_ERROR);
  await shut(h);
  const h2 = serverHarness();
  h2.peer.send(h2.peer.request(1, "a:1", true));
  h2.session.respond(h2.dispatched[0], [[":status", "400"]], true); // closed both ways
  h2.peer.send(h2.peer.request(1, "a:1", true));
  assert.equal(h2.peer.goaway()?.code, ErrorCode.STREAM_CLOSED);
  await shut(h2);
});
