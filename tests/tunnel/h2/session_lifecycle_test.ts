/**
 * H2Session life: END_STREAM vs abort as a reader and a sink see them, RST_STREAM both ways, GOAWAY
 * both ways, PING keepalive (a dead peer is dropped), the preface timeout, and the response timeout.
 */
import assert from "node:assert/strict";
import { encodeGoaway, encodeHeaders, ErrorCode, Flag, FrameType } from "../../../lib/tunnel/h2/frame.ts";
import { H2Error, H2ResponseTimeoutError } from "../../../lib/tunnel/h2/h2_error.ts";
import { H2Session } from "../../../lib/tunnel/h2/session.ts";
import type { H2Stream, StreamSink } from "../../../lib/tunnel/h2/stream.ts";
import {
  clientHarness,
  FakeSocket,
  frame,
  RawPeer,
  serverHarness,
  sessionPair,
  shut,
  TEST_OPTIONS,
  u32,
  until,
} from "./h2_test_peer.ts";

const CONNECT: Array<[string, string]> = [[":method", "CONNECT"], [":authority", "10.0.0.9:80"]];

/** A sink that records what it is told. */
function recorder(): StreamSink & { events: string[]; error?: Error } {
  const r: StreamSink & { events: string[]; error?: Error } = {
    events: [],
    onData: (c) => r.events.push(`data:${c.length}`),
    onEnd: () => r.events.push("end"),
    onError: (e) => {
      r.error = e;
      r.events.push("error");
    },
  };
  return r;
}

async function open(p: ReturnType<typeof sessionPair>): Promise<{ c: H2Stream; s: H2Stream }> {
  const before = p.dispatched.length;
  const c = p.client.request(CONNECT);
  await until(() => p.dispatched.length > before, 2000, "dispatch");
  const s = p.dispatched.at(-1)!;
  p.server.respond(s, [[":status", "200"]], false);
  await c.response;
  return { c, s };
}

async function close(p: ReturnType<typeof sessionPair>): Promise<void> {
  p.client.close();
  p.server.close();
  await Promise.all([p.client.closed, p.server.closed]);
}

Deno.test("h2 life: END_STREAM is a clean end (null / onEnd); RST_STREAM(CONNECT_ERROR) from the peer is an abort (error)", async () => {
  const p = sessionPair();
  const a = await open(p);
  await a.c.writeBytes(new Uint8Array([1, 2, 3]));
  a.c.end();
  assert.deepEqual(await a.s.read(), new Uint8Array([1, 2, 3]));
  assert.equal(await a.s.read(), null, "END_STREAM reads as null");
  const sink = recorder();
  const b = await open(p);
  b.s.attach(sink);
  b.c.reset(ErrorCode.CONNECT_ERROR);
  await until(() => sink.events.includes("error"));
  assert.deepEqual(sink.events, ["error"], "never onEnd");
  assert.ok(sink.error instanceof H2Error);
  assert.equal((sink.error as H2Error).code, ErrorCode.CONNECT_ERROR, "the peer's code is carried");
  // And the other way: the server resets, the client's reader rejects.
  const c = await open(p);
  c.s.reset(ErrorCode.CONNECT_ERROR);
  await assert.rejects(
    c.c.read(),
    (e: unknown) => e instanceof H2Error && e.code === ErrorCode.CONNECT_ERROR,
  );
  await close(p);
});

Deno.test("h2 life: a lost connection aborts every open stream (reader and sink get an error, never an end)", async () => {
  const p = sessionPair();
  const a = await open(p);
  const b = await open(p);
  const sink = recorder();
  b.s.attach(sink);
  const reading = a.c.read();
  p.clientSocket.destroy(); // the TCP connection drops
  await assert.rejects(reading, H2Error);
  await until(() => sink.events.length > 0);
  assert.deepEqual(sink.events, ["error"]);
  await Promise.all([p.client.closed, p.server.closed]);
  assert.equal(p.client.available, false);
});

Deno.test("h2 life: GOAWAY from the server refuses streams above its last id as aborts; older ones finish", async () => {
  const h = clientHarness();
  const s1 = h.session.request(CONNECT);
  const s3 = h.session.request(CONNECT);
  let unavailable = 0;
  h.session.onUnavailable = () => unavailable++;
  h.peer.send(encodeGoaway(1, ErrorCode.NO_ERROR));
  assert.equal(h.session.available, false);
  assert.ok(unavailable >= 1);
  await assert.rejects(
    s3.response!,
    (e: unknown) => e instanceof H2Error && e.code === ErrorCode.REFUSED_STREAM,
  );
  assert.throws(() => h.session.request(CONNECT), H2Error, "no new streams");
  // Stream 1 still gets its response and data.
  h.peer.send(encodeHeaders(1, h.peer.encoder.encode([[":status", "200"]]), false, 16384));
  assert.deepEqual(await s1.response, [[":status", "200"]]);
  h.peer.send(frame(FrameType.DATA, Flag.END_STREAM, 1, [7]));
  assert.deepEqual(await s1.read(), new Uint8Array([7]));
  s1.end();
  await until(() => h.session.isClosed, 2000, "close after the last stream");
  await shut(h);
});

Deno.test("h2 life: goaway() from the server: GOAWAY with the last stream id; new streams refused; closes when idle", async () => {
  const p = sessionPair();
  const a = await open(p);
  p.server.goaway();
  await until(() => !p.client.available, 2000, "client sees GOAWAY");
  assert.equal(p.server.available, false);
  // The open stream still works both ways.
  await a.c.writeBytes(new Uint8Array([9]));
  assert.deepEqual(await a.s.read(), new Uint8Array([9]));
  a.c.end();
  a.s.end();
  await Promise.all([p.client.closed, p.server.closed]);
});

Deno.test("h2 life: keepalive PINGs keep a live peer's connection; ACKs of our PINGs cost no glitch budget", async () => {
  // 40 glitches, no refill: 30 PINGs each way fit only if the 30 ACKs each way are free.
  const p = sessionPair({
    keepaliveIntervalMs: 2,
    keepaliveTimeoutMs: 500,
    glitchBurst: 40,
    glitchRatePerSecond: 0,
  });
  let pings = 0;
  const wire = p.clientSocket.onWrite;
  p.clientSocket.onWrite = (d) => {
    if (d[3] === FrameType.PING && !(d[4] & Flag.ACK)) pings++;
    wire(d);
  };
  await open(p);
  await until(() => pings >= 30, 3000, "30 keepalive rounds");
  assert.equal(p.client.isClosed, false);
  assert.equal(p.server.isClosed, false);
  await close(p);
});

Deno.test("h2 life: keepalive drops a peer that stops answering (keepalive_timeout), and it is no longer available", async () => {
  const socket = new FakeSocket();
  const peer = new RawPeer(socket, true);
  const session = new H2Session(socket, "client", {
    ...TEST_OPTIONS,
    keepaliveIntervalMs: 10,
    keepaliveTimeoutMs: 30,
  });
  const violations: string[] = [];
  session.onViolation = (k) => violations.push(k);
  let unavailable = false;
  session.onUnavailable = () => (unavailable = true);
  peer.send(new Uint8Array(frame(FrameType.SETTINGS, 0, 0)));
  const s = session.request(CONNECT);
  // The peer is frozen: it reads our PING but never answers.
  await session.closed;
  assert.ok(peer.of(FrameType.PING).length >= 1, "a PING was sent");
  assert.deepEqual(violations, ["keepalive_timeout"]);
  assert.ok(unavailable && !session.available);
  assert.ok(socket.destroyed, "a frozen peer is not waited for");
  await assert.rejects(s.response!, H2Error);
});

Deno.test("h2 life: a server peer that never sends the preface is dropped after prefaceTimeoutMs", async () => {
  const socket = new FakeSocket();
  const session = new H2Session(socket, "server", { ...TEST_OPTIONS, prefaceTimeoutMs: 20 });
  const violations: string[] = [];
  session.onViolation = (k) => violations.push(k);
  socket.deliver(new TextEncoder().encode("PRI * HTTP/2.0\r\n")); // half a preface, then nothing
  await session.closed;
  assert.deepEqual(violations, ["preface_timeout"]);
  socket.destroy();
  // A peer that does send it in time is not dropped.
  const h = serverHarness({ prefaceTimeoutMs: 20 });
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(h.session.isClosed, false);
  await shut(h);
});

Deno.test("h2 life: the first frame after the preface must be SETTINGS", async () => {
  const socket = new FakeSocket();
  const peer = new RawPeer(socket, false);
  const session = new H2Session(socket, "server", TEST_OPTIONS);
  peer.send(
    new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    frame(FrameType.PING, 0, 0, new Uint8Array(8)),
  );
  assert.equal(peer.goaway()?.code, ErrorCode.PROTOCOL_ERROR);
  socket.destroy();
  await session.closed;
});

Deno.test("h2 life: no response within responseTimeoutMs → the stream is reset (CANCEL) and the response rejects", async () => {
  const h = clientHarness();
  const s = h.session.request(CONNECT, { responseTimeoutMs: 20 });
  await assert.rejects(s.response!, (e: unknown) => {
    assert.ok(e instanceof H2ResponseTimeoutError);
    assert.equal(e.timeoutMs, 20);
    return true;
  });
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.CANCEL]]);
  assert.ok(s.error instanceof H2ResponseTimeoutError, "readers see the same abort");
  assert.equal(h.session.available, true, "the connection itself is fine");
  // A response in time clears the timer.
  const t = h.session.request(CONNECT, { responseTimeoutMs: 30 });
  h.peer.send(encodeHeaders(3, h.peer.encoder.encode([[":status", "200"]]), false, 16384));
  await t.response;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(t.error, undefined);
  await shut(h);
});

Deno.test("h2 life: frames on idle streams are connection errors (RST_STREAM, WINDOW_UPDATE, DATA)", async () => {
  for (
    const f of [
      frame(FrameType.RST_STREAM, 0, 1, u32(8)),
      frame(FrameType.WINDOW_UPDATE, 0, 1, u32(100)),
      frame(FrameType.DATA, 0, 1, [1]),
    ]
  ) {
    const h = serverHarness();
    h.peer.send(f);
    assert.equal(h.peer.goaway()?.code, ErrorCode.PROTOCOL_ERROR);
    await shut(h);
  }
});

Deno.test("h2 life: a second HEADERS without END_STREAM, or after END_STREAM, is a stream error", async () => {
  const h = serverHarness();
  h.peer.send(h.peer.request(1));
  h.peer.send(encodeHeaders(1, h.peer.encoder.encode([["x-trailer", "1"]]), false, 16384));
  h.peer.send(h.peer.request(3, "a:1", true));
  h.peer.send(encodeHeaders(3, h.peer.encoder.encode([["x-trailer", "1"]]), true, 16384));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.PROTOCOL_ERROR], [3, ErrorCode.STREAM_CLOSED]]);
  await shut(h);
});

Deno.test("h2 life: an exception of ours while handling a frame is an INTERNAL_ERROR, not the peer's violation", async () => {
  const h = clientHarness();
  h.session.onUnavailable = () => {
    throw new TypeError("a bug in a callback");
  };
  h.peer.send(encodeGoaway(0, ErrorCode.NO_ERROR));
  assert.equal(h.peer.goaway()?.code, ErrorCode.INTERNAL_ERROR);
  assert.deepEqual(h.violations, [], "not counted against the peer");
  assert.ok(h.session.error instanceof H2Error && h.session.error.cause instanceof TypeError);
  h.session.onUnavailable = undefined;
  await shut(h);
});

Deno.test("h2 life: an onStream handler that throws resets its stream (INTERNAL_ERROR); the connection goes on", async () => {
  const h = serverHarness();
  h.session.onStream = () => {
    throw new Error("handler bug");
  };
  h.peer.send(h.peer.request(1));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.INTERNAL_ERROR]]);
  assert.equal(h.peer.goaway(), undefined);
  await shut(h);
});

Deno.test("h2 life: response deadlines of several streams share one timer and expire each on time", async () => {
  const h = clientHarness();
  const slow = h.session.request(CONNECT, { responseTimeoutMs: 60 });
  const fast = h.session.request(CONNECT, { responseTimeoutMs: 20 });
  const answered = h.session.request(CONNECT, { responseTimeoutMs: 40 });
  h.peer.send(encodeHeaders(5, h.peer.encoder.encode([[":status", "200"]]), false, 16384));
  await answered.response;
  const start = performance.now();
  await assert.rejects(fast.response!, H2ResponseTimeoutError);
  assert.equal(slow.error, undefined, "the later deadline has not passed yet");
  await assert.rejects(slow.response!, H2ResponseTimeoutError);
  assert.ok(performance.now() - start >= 25, "the second expired at its own deadline");
  assert.equal(answered.error, undefined);
  assert.deepEqual(h.peer.rsts(), [[3, ErrorCode.CANCEL], [1, ErrorCode.CANCEL]]);
  await shut(h);
});

Deno.test("h2 life: RST_STREAM(NO_ERROR or CANCEL) from the peer ends the stream after its data (ztunnel's reading)", async () => {
  for (const code of [ErrorCode.NO_ERROR, ErrorCode.CANCEL]) {
    const p = sessionPair();
    const a = await open(p);
    const sink = recorder();
    a.s.attach(sink);
    await a.c.writeBytes(new Uint8Array([7, 8]));
    a.c.reset(code);
    await until(() => sink.events.includes("end"));
    assert.deepEqual(sink.events, ["data:2", "end"], `code ${code}: data, then a clean end`);
    assert.equal(a.s.peerResetCode, code, "the stream knows the peer reset it");
    await assert.rejects(a.s.writeBytes(new Uint8Array([1])), H2Error, "nothing more may be sent");
    await close(p);
  }
});
