/**
 * A stream sends at most one RST_STREAM, and none in answer to the peer's: its sink (the relay)
 * resets the stream from onError, which runs while the stream is being failed — for our own stream
 * error or the peer's reset alike — and that nested reset must send nothing.
 */
import assert from "node:assert/strict";
import { ErrorCode, FrameType } from "../../../lib/tunnel/h2/frame.ts";
import type { H2Stream } from "../../../lib/tunnel/h2/stream.ts";
import { frame, serverHarness, shut, u32 } from "./h2_test_peer.ts";

/** What StreamRelay does: on the first abort, reset the stream (CONNECT_ERROR). */
function relayLike(s: H2Stream): void {
  let failed = false;
  const onError = () => {
    if (failed) return;
    failed = true;
    s.reset(ErrorCode.CONNECT_ERROR);
  };
  s.attach({ onData: () => {}, onEnd: () => {}, onError });
}

Deno.test("h2 stream: a stream error is answered with one RST_STREAM, even when the sink resets it again", async () => {
  const h = serverHarness();
  h.peer.send(h.peer.request(1));
  const s = h.dispatched[0];
  h.session.respond(s, [[":status", "200"]], false);
  relayLike(s);
  h.peer.send(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0x7fffffff)));
  assert.deepEqual(h.peer.rsts(), [[1, ErrorCode.FLOW_CONTROL_ERROR]]);
  await shut(h);
});

Deno.test("h2 stream: the peer's RST_STREAM (an abort) is not answered with one", async () => {
  const h = serverHarness();
  h.peer.send(h.peer.request(1));
  const s = h.dispatched[0];
  h.session.respond(s, [[":status", "200"]], false);
  relayLike(s);
  h.peer.send(frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.PROTOCOL_ERROR)));
  assert.ok(s.error, "the stream was aborted");
  assert.deepEqual(h.peer.rsts(), []);
  await shut(h);
});
