/**
 * H2Session flow control, both directions: DATA charged against the windows we advertised (stream and
 * connection), WINDOW_UPDATE after releases, sending held by the peer's windows, SETTINGS window
 * changes, and windows pushed past 2^31-1.
 */
import assert from "node:assert/strict";
import {
  encodeSettings,
  encodeWindowUpdate,
  ErrorCode,
  Flag,
  FrameType,
  Setting,
} from "../../../lib/tunnel/h2/frame.ts";
import { clientHarness, frame, serverHarness, shut, u32 } from "./h2_test_peer.ts";

const data = (id: number, n: number, flags = 0) =>
  frame(FrameType.DATA, flags, id, new Uint8Array(n).fill(0x5a));
const windowUpdates = (frames: { type: number; streamId: number; payload: Uint8Array }[], id: number) =>
  frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === id)
    .reduce(
      (n, f) => n + (new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(0) & 0x7fffffff),
      0,
    );

Deno.test("h2 flow: a stream's DATA up to its window is buffered; one byte more is a stream FLOW_CONTROL_ERROR", async () => {
  const h = serverHarness({ connectionWindow: 1 << 20 });
  h.peer.send(h.peer.request(1), h.peer.request(3));
  for (let i = 0; i < 4; i++) h.peer.send(data(1, 16383)); // 65532 of 65535, the app never reads
  h.peer.send(data(1, 3));
  assert.deepEqual(h.peer.rsts(), []);
  h.peer.send(data(1, 1));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.FLOW_CONTROL_ERROR]]);
  const s1 = h.dispatched[0];
  assert.ok(s1.error, "the stream learns it was aborted");
  assert.equal(h.peer.goaway(), undefined, "only the stream is reset");
  // The other stream still works.
  h.peer.send(data(3, 10, Flag.END_STREAM));
  assert.equal((await h.dispatched[1].read())?.length, 10);
  await shut(h);
});

Deno.test("h2 flow: DATA past the connection window is a connection FLOW_CONTROL_ERROR", async () => {
  const h = serverHarness(); // connection window 65535, as advertised
  h.peer.send(h.peer.request(1), h.peer.request(3));
  h.peer.send(data(1, 16384), data(1, 16384), data(3, 16384), data(3, 16383));
  assert.equal(h.peer.goaway(), undefined, "65535 bytes fit");
  h.peer.send(data(3, 1));
  assert.equal(h.peer.goaway()?.code, ErrorCode.FLOW_CONTROL_ERROR);
  assert.deepEqual(h.violations.map(([k]) => k), ["flow_control"]);
  assert.ok(h.dispatched.every((s) => s.error), "every stream is aborted");
  await shut(h);
});

Deno.test("h2 flow: releasing half a window sends WINDOW_UPDATE; the peer may then send that much more", async () => {
  const h = serverHarness();
  h.peer.send(h.peer.request(1));
  h.peer.send(data(1, 16384), data(1, 16384), data(1, 16384), data(1, 16383));
  const s = h.dispatched[0];
  let got = 0;
  while (got < 32768) {
    const c = (await s.read())!;
    got += c.length;
    s.release(c.length);
  }
  assert.equal(windowUpdates(h.peer.frames, 1), 32768);
  assert.equal(windowUpdates(h.peer.frames, 0), 32768);
  h.peer.send(data(1, 16384), data(1, 16384));
  assert.equal(h.peer.goaway(), undefined);
  assert.deepEqual(h.peer.rsts(), []);
  await shut(h);
});

Deno.test("h2 flow: padding counts against the windows and is given back at once", async () => {
  const h = serverHarness();
  h.peer.send(h.peer.request(1));
  // Padded DATA: pad length 255, 300 data bytes, 255 padding bytes → 556 flow-controlled bytes each.
  const padded = frame(FrameType.DATA, Flag.PADDED, 1, [255, ...new Uint8Array(300), ...new Uint8Array(255)]);
  // A well-behaved peer sends only within the windows it was given (65535 + WINDOW_UPDATEs); the app
  // reads and releases every data byte. Only if the padding comes back too can this go on for long.
  const s = h.dispatched[0];
  let sent = 0;
  const allowed = (id: number) => 65535 + windowUpdates(h.peer.frames, id);
  while (sent + 556 <= Math.min(allowed(0), allowed(1)) && sent < 1_000_000) {
    h.peer.send(padded);
    sent += 556;
    const piece = (await s.read())!;
    s.release(piece.length);
  }
  assert.ok(sent >= 1_000_000, `only ${sent} flow-controlled bytes could be sent`);
  assert.equal(h.peer.goaway(), undefined);
  assert.deepEqual(h.peer.rsts(), []);
  await shut(h);
});

Deno.test("h2 flow: DATA after END_STREAM is STREAM_CLOSED; on a closed stream too; on an idle one a connection error", async () => {
  const h = serverHarness();
  h.peer.send(h.peer.request(1, "a:1", true));
  h.peer.send(data(1, 5));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.STREAM_CLOSED]]);
  h.peer.send(data(1, 5)); // we reset it: late DATA is ignored
  assert.equal(h.peer.rsts().length, 1);
  h.peer.send(data(9, 5));
  assert.equal(h.peer.goaway()?.code, ErrorCode.PROTOCOL_ERROR);
  await shut(h);
});

Deno.test("h2 flow: content-length must match the DATA received", async () => {
  const h = serverHarness();
  const block = h.peer.encoder.encode([[":method", "POST"], [":scheme", "http"], [":path", "/"], [
    ":authority",
    "a",
  ], ["content-length", "3"]]);
  h.peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, block), data(1, 4, Flag.END_STREAM));
  h.peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 3, block), data(3, 2, Flag.END_STREAM));
  h.peer.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 5, block), data(5, 3, Flag.END_STREAM));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.PROTOCOL_ERROR], [3, ErrorCode.PROTOCOL_ERROR]]);
  assert.deepEqual(h.dispatched.map((s) => s.id), [5]);
  await shut(h);
});

Deno.test("h2 flow: sending waits for the peer's stream window and resumes on WINDOW_UPDATE", async () => {
  const h = clientHarness();
  h.peer.send(encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 10]]));
  const s = h.session.request([[":method", "CONNECT"], [":authority", "a:1"]]);
  let done = false;
  const w = s.writeBytes(new Uint8Array(25).fill(1)).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 10));
  const sent = () => h.peer.of(FrameType.DATA).reduce((n, f) => n + f.payload.length, 0);
  assert.equal(sent(), 10);
  assert.equal(done, false);
  h.peer.send(encodeWindowUpdate(1, 15));
  await w;
  assert.equal(sent(), 25);
  await shut(h);
});

Deno.test("h2 flow: sending waits for the connection window too", async () => {
  const h = clientHarness();
  const s = h.session.request([[":method", "CONNECT"], [":authority", "a:1"]]);
  const w = s.writeBytes(new Uint8Array(70000));
  await new Promise((r) => setTimeout(r, 10));
  const sent = () => h.peer.of(FrameType.DATA).reduce((n, f) => n + f.payload.length, 0);
  assert.equal(sent(), 65535, "the default connection and stream windows");
  h.peer.send(encodeWindowUpdate(0, 10000), encodeWindowUpdate(1, 10000));
  await w;
  assert.equal(sent(), 70000);
  await shut(h);
});

Deno.test("h2 flow: SETTINGS_INITIAL_WINDOW_SIZE changes shift open streams' windows (negative allowed)", async () => {
  const h = clientHarness();
  const s = h.session.request([[":method", "CONNECT"], [":authority", "a:1"]]);
  h.peer.send(encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 100]]));
  assert.equal(s.sendWindow, 100);
  await s.writeBytes(new Uint8Array(100));
  h.peer.send(encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 40]]));
  assert.equal(s.sendWindow, -60);
  let done = false;
  const w = s.writeBytes(new Uint8Array(5)).then(() => (done = true));
  h.peer.send(encodeWindowUpdate(1, 60));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(done, false, "the window is back at 0: still waiting");
  h.peer.send(encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 65535]]));
  await w;
  await shut(h);
});

Deno.test("h2 flow: a stream WINDOW_UPDATE past 2^31-1 resets the stream (FLOW_CONTROL_ERROR)", async () => {
  const h = clientHarness();
  h.session.request([[":method", "CONNECT"], [":authority", "a:1"]]);
  h.peer.send(encodeWindowUpdate(1, 0x7fffffff - 65535));
  assert.deepEqual(h.peer.rsts(), []);
  h.peer.send(encodeWindowUpdate(1, 1));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.FLOW_CONTROL_ERROR]]);
  assert.equal(h.peer.goaway(), undefined);
  await shut(h);
});

Deno.test("h2 flow: a connection WINDOW_UPDATE past 2^31-1 is a GOAWAY FLOW_CONTROL_ERROR", async () => {
  const h = clientHarness();
  h.peer.send(encodeWindowUpdate(0, 0x7fffffff - 65535));
  assert.equal(h.peer.goaway(), undefined);
  h.peer.send(encodeWindowUpdate(0, 1));
  assert.equal(h.peer.goaway()?.code, ErrorCode.FLOW_CONTROL_ERROR);
  assert.deepEqual(h.violations.map(([k]) => k), ["flow_control"]);
  await shut(h);
});

Deno.test("h2 flow: SETTINGS_INITIAL_WINDOW_SIZE overflowing an open stream's window is a GOAWAY FLOW_CONTROL_ERROR", async () => {
  const h = clientHarness();
  h.session.request([[":method", "CONNECT"], [":authority", "a:1"]]);
  h.peer.send(encodeWindowUpdate(1, 0x7fffffff - 65535)); // at the maximum
  h.peer.send(encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 65536]]));
  assert.equal(h.peer.goaway()?.code, ErrorCode.FLOW_CONTROL_ERROR);
  await shut(h);
});

Deno.test("h2 flow: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a GOAWAY FLOW_CONTROL_ERROR", async () => {
  const h = serverHarness();
  h.peer.send(frame(FrameType.SETTINGS, 0, 0, [0, Setting.INITIAL_WINDOW_SIZE, ...u32(0x80000000)]));
  assert.equal(h.peer.goaway()?.code, ErrorCode.FLOW_CONTROL_ERROR);
  await shut(h);
});

Deno.test("h2 flow: a zero WINDOW_UPDATE is a stream error on a stream, a connection error on stream 0", async () => {
  const h = clientHarness();
  h.session.request([[":method", "CONNECT"], [":authority", "a:1"]]);
  h.peer.send(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0)));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.PROTOCOL_ERROR]]);
  h.peer.send(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0)));
  assert.equal(h.peer.goaway()?.code, ErrorCode.PROTOCOL_ERROR);
  await shut(h);
});

Deno.test("h2 flow: a stream window below the default applies once our SETTINGS is acknowledged", async () => {
  const h = serverHarness({ streamWindow: 1000 });
  // serverHarness acknowledged our SETTINGS: new streams get 1000.
  h.peer.send(h.peer.request(1));
  h.peer.send(data(1, 1000));
  assert.deepEqual(h.peer.rsts(), []);
  h.peer.send(data(1, 1));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.FLOW_CONTROL_ERROR]]);
  await shut(h);
});

Deno.test("h2 flow: small pieces may pin their receive buffers only up to maxPinnedBytes; past it they are copied", async () => {
  const h = serverHarness({ maxPinnedBytes: 3 * 4096 });
  h.peer.send(h.peer.request(1));
  // 4 KiB chunks, each carrying one 100-byte DATA frame (and padding to fill the chunk).
  const chunks = Array.from({ length: 5 }, (_, i) => {
    const c = new Uint8Array(4096);
    c.set(data(1, 100));
    c.set(frame(0xfa, 0, 0, new Uint8Array(4096 - 109 - 9)), 109); // an unknown frame fills the rest
    c[9] = i;
    return c;
  });
  for (const c of chunks) h.socket.deliver(c);
  const s = h.dispatched[0];
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) pieces.push((await s.read())!);
  assert.deepEqual(pieces.map((p) => p[0]), [0, 1, 2, 3, 4]);
  assert.deepEqual(pieces.map((p, i) => p.buffer === chunks[i].buffer), [
    true,
    true,
    true,
    false,
    false,
  ]);
  // Released pieces give their pin back: the next one is a view again.
  s.release(500);
  const c = new Uint8Array(4096);
  c.set(data(1, 100));
  c.set(frame(0xfa, 0, 0, new Uint8Array(4096 - 109 - 9)), 109);
  h.socket.deliver(c);
  assert.equal((await s.read())!.buffer, c.buffer);
  await shut(h);
});
