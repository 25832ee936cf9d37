/**
 * H2Session budgets against floods: rapid reset (CVE-2023-44487), streams reset for the peer's errors,
 * tiny and empty DATA frames, zero-progress frames, and the replies owed to a peer that does not read
 * (ACK coalescing, read pause, write flood).
 */
import assert from "node:assert/strict";
import {
  encodeSettings,
  encodeWindowUpdate,
  ErrorCode,
  Flag,
  FrameType,
} from "../../../lib/tunnel/h2/frame.ts";
import { frame, serverHarness, shut, u32 } from "./h2_test_peer.ts";

const ENHANCE_YOUR_CALM = ErrorCode.ENHANCE_YOUR_CALM;
const rst = (id: number) => frame(FrameType.RST_STREAM, 0, id, u32(ErrorCode.CANCEL));
const ping = (n: number) => frame(FrameType.PING, 0, 0, [0, 0, 0, 0, ...u32(n)]);
const kinds = (h: { violations: Array<[string, string]> }) => h.violations.map(([k]) => k);

Deno.test("h2 budgets: more than maxPendingResetStreams streams reset before an answer → GOAWAY ENHANCE_YOUR_CALM", async () => {
  const h = serverHarness({ maxPendingResetStreams: 20, maxConcurrentStreams: 1000 });
  for (let i = 0; i < 20; i++) {
    const id = 1 + 2 * i;
    h.peer.send(h.peer.request(id)); // handed over: the app starts its upstream work
    h.peer.send(rst(id)); // and the peer resets it at once
  }
  assert.equal(h.peer.goaway(), undefined, "20 are tolerated");
  assert.equal(h.dispatched.length, 20);
  h.peer.send(h.peer.request(41));
  h.peer.send(rst(41));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(kinds(h), ["rapid_reset"]);
  await shut(h);
});

Deno.test("h2 budgets: a reset stream stops counting once the app answers it (as h2's accept queue)", async () => {
  const h = serverHarness({ maxPendingResetStreams: 20, maxConcurrentStreams: 1000 });
  for (let round = 0; round < 5; round++) {
    const first = h.dispatched.length;
    for (let i = 0; i < 20; i++) {
      const id = 1 + 2 * (round * 20 + i);
      h.peer.send(h.peer.request(id));
      h.peer.send(rst(id));
    }
    // The app finishes its work on each (here: answers after the reset, as InboundProxy would).
    for (const s of h.dispatched.slice(first)) h.session.respond(s, [[":status", "200"]], false);
  }
  assert.equal(h.dispatched.length, 100);
  assert.equal(h.peer.goaway(), undefined);
  await shut(h);
});

Deno.test("h2 budgets: streams reset before they are handed over draw on the glitch budget", async () => {
  const h = serverHarness({ glitchBurst: 50, glitchRatePerSecond: 0, maxConcurrentStreams: 1000 });
  const wire: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) wire.push(h.peer.request(1 + 2 * i), rst(1 + 2 * i));
  h.peer.send(...wire); // 60 × CONNECT + RST in one chunk
  assert.equal(h.dispatched.length, 0, "no stream reached the app");
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(kinds(h), ["glitch_flood"]);
  await shut(h);
});

Deno.test("h2 budgets: more than maxLocalErrorResets stream errors → GOAWAY ENHANCE_YOUR_CALM", async () => {
  const h = serverHarness({ maxLocalErrorResets: 10 });
  const zeroUpdate = (id: number) => frame(FrameType.WINDOW_UPDATE, 0, id, u32(0));
  for (let i = 0; i < 10; i++) h.peer.send(h.peer.request(1 + 2 * i), zeroUpdate(1 + 2 * i));
  assert.equal(h.peer.rsts().length, 10);
  assert.equal(h.peer.goaway(), undefined);
  h.peer.send(h.peer.request(21), zeroUpdate(21));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(kinds(h), ["stream_error_flood"]);
  await shut(h);
});

Deno.test("h2 budgets: tiny DATA frames an app has not read exhaust the DATA-frame budget", async () => {
  const h = serverHarness({ dataFrameBudget: 2550 });
  h.peer.send(h.peer.request(1));
  // Each 1-byte piece costs 255 until released: 10 fit, the 11th does not.
  for (let i = 0; i < 10; i++) h.peer.send(frame(FrameType.DATA, 0, 1, [i]));
  assert.equal(h.peer.goaway(), undefined);
  h.peer.send(frame(FrameType.DATA, 0, 1, [10]));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(kinds(h), ["small_data_flood"]);
  await shut(h);
});

Deno.test("h2 budgets: tiny DATA frames an app reads and releases go on forever", async () => {
  const h = serverHarness({ dataFrameBudget: 2550 });
  h.peer.send(h.peer.request(1));
  const s = h.dispatched[0];
  for (let i = 0; i < 5000; i++) {
    h.peer.send(frame(FrameType.DATA, 0, 1, [i & 0xff]));
    const piece = (await s.read())!;
    s.release(piece.length);
  }
  assert.equal(h.peer.goaway(), undefined);
  await shut(h);
});

Deno.test("h2 budgets: empty DATA frames without END_STREAM are zero-progress frames", async () => {
  const h = serverHarness({ glitchBurst: 100, glitchRatePerSecond: 0 });
  h.peer.send(h.peer.request(1));
  for (let i = 0; i < 100; i++) h.peer.send(frame(FrameType.DATA, 0, 1, []));
  assert.equal(h.peer.goaway(), undefined);
  h.peer.send(frame(FrameType.DATA, 0, 1, []));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  assert.deepEqual(kinds(h), ["glitch_flood"]);
  await shut(h);
  // An empty DATA frame that ends the stream is progress.
  const h2 = serverHarness({ glitchBurst: 1, glitchRatePerSecond: 0 });
  for (let i = 0; i < 5; i++) {
    h2.peer.send(h2.peer.request(1 + 2 * i), frame(FrameType.DATA, Flag.END_STREAM, 1 + 2 * i));
  }
  assert.equal(h2.peer.goaway(), undefined);
  await shut(h2);
});

Deno.test("h2 budgets: PRIORITY, unknown frames, tiny WINDOW_UPDATEs, PINGs and SETTINGS share the glitch budget", async () => {
  const floods: Array<[string, (i: number) => Uint8Array]> = [
    ["PRIORITY", (i) => frame(FrameType.PRIORITY, 0, 1 + 2 * i, [0, 0, 0, 0, 16])],
    ["unknown type", () => frame(0xfa, 0, 0, [1, 2, 3])],
    ["tiny WINDOW_UPDATE", () => encodeWindowUpdate(0, 1)],
    ["PING", (i) => ping(i)],
    ["SETTINGS", () => encodeSettings([])],
  ];
  for (const [what, make] of floods) {
    const h = serverHarness({ glitchBurst: 30, glitchRatePerSecond: 0 });
    for (let i = 0; i < 30; i++) h.peer.send(make(i));
    assert.equal(h.peer.goaway(), undefined, `${what}: 30 fit`);
    h.peer.send(make(30));
    assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM, what);
    assert.deepEqual(kinds(h), ["glitch_flood"], what);
    await shut(h);
  }
});

Deno.test("h2 budgets: the glitch budget refills over time (a slow, steady peer is fine)", async () => {
  const h = serverHarness({ glitchBurst: 5, glitchRatePerSecond: 1000 });
  for (let i = 0; i < 20; i++) {
    h.peer.send(ping(i));
    await new Promise((r) => setTimeout(r, 3)); // 3 tokens back per PING
  }
  assert.equal(h.peer.goaway(), undefined);
  assert.equal(h.peer.of(FrameType.PING).filter((f) => f.flags & Flag.ACK).length, 20);
  await shut(h);
});

Deno.test("h2 budgets: a SETTINGS frame with more than maxSettingsEntries entries → ENHANCE_YOUR_CALM", async () => {
  const h = serverHarness({ maxSettingsEntries: 4 });
  h.peer.send(encodeSettings([[1, 4096], [2, 0], [4, 100], [5, 16384]]));
  assert.equal(h.peer.goaway(), undefined);
  h.peer.send(encodeSettings([[1, 4096], [2, 0], [4, 100], [5, 16384], [6, 100]]));
  assert.equal(h.peer.goaway()?.code, ENHANCE_YOUR_CALM);
  await shut(h);
});

Deno.test("h2 budgets: while the socket is congested one PING ACK is queued and the latest one held", async () => {
  const h = serverHarness({ glitchBurst: 1e6 });
  const acks = () => h.peer.of(FrameType.PING).filter((f) => f.flags & Flag.ACK);
  h.socket.congested = true;
  h.peer.send(ping(1)); // written (the queue holds one ACK)
  for (let i = 2; i <= 50; i++) h.peer.send(ping(i)); // coalesced: only the newest is kept
  assert.equal(acks().length, 1);
  h.socket.drain();
  assert.equal(acks().length, 2, "the held ACK goes out on drain");
  assert.deepEqual([...acks()[1].payload.subarray(4)], u32(50), "for the latest PING");
  await shut(h);
});

Deno.test("h2 budgets: SETTINGS ACKs owed while congested are all sent on drain", async () => {
  const h = serverHarness({ glitchBurst: 1e6 });
  const acks = () => h.peer.of(FrameType.SETTINGS).filter((f) => f.flags & Flag.ACK);
  const before = acks().length;
  h.socket.congested = true;
  for (let i = 0; i < 5; i++) h.peer.send(encodeSettings([]));
  assert.equal(acks().length - before, 1, "one in the queue");
  h.socket.drain();
  assert.equal(acks().length - before, 5, "every SETTINGS is acknowledged, in order");
  await shut(h);
});

Deno.test("h2 budgets: too many ACKs owed to a peer that does not read → ack_flood", async () => {
  const h = serverHarness({ glitchBurst: 1e6, maxQueuedAcks: 10 });
  h.socket.congested = true;
  for (let i = 0; i < 11; i++) h.peer.send(encodeSettings([]));
  assert.equal(h.peer.goaway(), undefined, "1 queued + 10 owed");
  h.peer.send(encodeSettings([]));
  assert.deepEqual(kinds(h), ["ack_flood"]);
  assert.ok(h.socket.destroyed, "a peer that does not read is not waited for");
  await shut(h);
});

Deno.test("h2 budgets: replies piling up for a peer that does not read pause reading until drain", async () => {
  const h = serverHarness({ replyHighWaterMark: 1000, replyLimit: 100_000, maxConcurrentStreams: 1 });
  h.peer.send(h.peer.request(1)); // the one stream allowed; every further one is refused
  h.socket.congested = true;
  let id = 3;
  while (!h.socket.paused && id < 1000) {
    h.peer.send(h.peer.request(id));
    id += 2;
  }
  assert.ok(h.socket.paused, "reading paused");
  const refused = h.peer.rsts().length;
  assert.ok(refused * 13 > 1000 && refused * 13 < 1100, `${refused} RST_STREAMs queued`);
  // What the socket still delivers waits.
  h.peer.send(h.peer.request(id));
  assert.equal(h.peer.rsts().length, refused);
  h.socket.drain();
  assert.equal(h.socket.paused, false, "resumed on drain");
  assert.equal(h.peer.rsts().length, refused + 1, "the waiting chunk was read");
  assert.equal(h.peer.goaway(), undefined);
  await shut(h);
});

Deno.test("h2 budgets: a socket that cannot pause ends the connection past replyLimit (write_flood)", async () => {
  const h = serverHarness({
    replyHighWaterMark: 1000,
    replyLimit: 5000,
    maxConcurrentStreams: 1,
    glitchBurst: 1e6,
  }, false);
  h.peer.send(h.peer.request(1));
  h.socket.congested = true;
  for (let id = 3; id < 1000 && !h.socket.destroyed; id += 2) h.peer.send(h.peer.request(id));
  assert.deepEqual(kinds(h), ["write_flood"]);
  assert.ok(h.peer.rsts().length * 13 <= 5000 + 13, "no more than replyLimit was queued");
  assert.ok(h.socket.destroyed);
  await shut(h);
});

Deno.test("h2 budgets: streams a chunk opened are handed over only while reading is not paused; the rest after drain", async () => {
  const h = serverHarness({ replyHighWaterMark: 100, replyLimit: 100_000, maxConcurrentStreams: 100 });
  const answered: number[] = [];
  h.session.onStream = (s) => {
    answered.push(s.id);
    h.session.respond(s, [[":status", "200"]], false); // each answer is a reply queued for a non-reader
  };
  h.socket.congested = true;
  const requests = Array.from({ length: 30 }, (_, i) => h.peer.request(1 + 2 * i));
  h.peer.send(...requests); // one chunk
  assert.ok(h.socket.paused);
  assert.ok(answered.length > 0 && answered.length < 30, `${answered.length} answered before the pause`);
  h.socket.drain();
  assert.deepEqual(
    answered,
    Array.from({ length: 30 }, (_, i) => 1 + 2 * i),
    "all, in order, after the drain",
  );
  await shut(h);
});
