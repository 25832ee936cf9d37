import assert from "node:assert/strict";
import {
  CONNECTION_PREFACE,
  decodeSettings,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  ErrorCode,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  MAX_GOAWAY_DEBUG,
  readUint32,
  Setting,
  writeFrameHeader,
} from "../../../lib/tunnel/h2/frame.ts";
import { H2Error } from "../../../lib/tunnel/h2/h2_error.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

function assertH2Error(fn: () => unknown, code: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof H2Error, `expected H2Error, got ${e}`);
    assert.equal(e.kind, "h2");
    assert.equal(e.code, code);
    return true;
  });
}

Deno.test("CONNECTION_PREFACE is the RFC 9113 client preface", () => {
  assert.equal(new TextDecoder().decode(CONNECTION_PREFACE), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  assert.equal(CONNECTION_PREFACE.length, 24);
});

Deno.test("writeFrameHeader writes in place and clears the reserved bit", () => {
  const buf = new Uint8Array(FRAME_HEADER_SIZE + 2).fill(0xee);
  writeFrameHeader(buf, 1, 0x123456, FrameType.DATA, Flag.END_STREAM, 0xffffffff);
  assert.deepEqual(buf, bytes(0xee, 0x12, 0x34, 0x56, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0xee));
  writeFrameHeader(buf, 0, 5, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3);
  assert.deepEqual(buf.subarray(0, 9), bytes(0, 0, 5, 1, 5, 0, 0, 0, 3));
});

Deno.test("control frame encoders produce exact bytes", () => {
  assert.deepEqual(
    encodeSettings([[Setting.ENABLE_PUSH, 0], [Setting.INITIAL_WINDOW_SIZE, 0x7fffffff]]),
    bytes(0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff),
  );
  assert.deepEqual(encodeSettings([]), bytes(0, 0, 0, 4, 0, 0, 0, 0, 0));
  assert.deepEqual(encodeSettingsAck(), bytes(0, 0, 0, 4, 1, 0, 0, 0, 0));
  assert.deepEqual(
    encodePing(bytes(1, 2, 3, 4, 5, 6, 7, 8), true),
    bytes(0, 0, 8, 6, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8),
  );
  assert.deepEqual(encodePing(new Uint8Array(8), false).subarray(0, 9), bytes(0, 0, 8, 6, 0, 0, 0, 0, 0));
  assert.deepEqual(encodeRstStream(5, ErrorCode.CANCEL), bytes(0, 0, 4, 3, 0, 0, 0, 0, 5, 0, 0, 0, 8));
  assert.deepEqual(
    encodeWindowUpdate(0, 0x10000),
    bytes(0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 1, 0, 0),
  );
  assert.deepEqual(
    encodeGoaway(7, ErrorCode.PROTOCOL_ERROR, "hi"),
    bytes(0, 0, 10, 7, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0x68, 0x69),
  );
  assert.deepEqual(encodeGoaway(0, 0), bytes(0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  const long = encodeGoaway(1, 2, "x".repeat(5000));
  assert.equal(long.length, FRAME_HEADER_SIZE + 8 + MAX_GOAWAY_DEBUG);
  assert.equal((long[0] << 16) | (long[1] << 8) | long[2], 8 + MAX_GOAWAY_DEBUG);
});

Deno.test("encoders reject invalid arguments", () => {
  assertH2Error(() => encodePing(new Uint8Array(7), false), ErrorCode.INTERNAL_ERROR);
  assertH2Error(() => encodeWindowUpdate(1, 0), ErrorCode.INTERNAL_ERROR);
  assertH2Error(() => encodeWindowUpdate(1, 2 ** 31), ErrorCode.INTERNAL_ERROR);
  assert.equal(readUint32(encodeWindowUpdate(1, 2 ** 31 - 1), 9), 2 ** 31 - 1);
});

Deno.test("encodeHeaders: one HEADERS frame when it fits", () => {
  const block = bytes(0x82, 0x87);
  assert.deepEqual(
    encodeHeaders(3, block, true, 16384),
    bytes(0, 0, 2, 1, Flag.END_HEADERS | Flag.END_STREAM, 0, 0, 0, 3, 0x82, 0x87),
  );
  assert.deepEqual(encodeHeaders(1, bytes(), false, 16384), bytes(0, 0, 0, 1, Flag.END_HEADERS, 0, 0, 0, 1));
});

Deno.test("encodeHeaders: HEADERS + CONTINUATION frames split at maxFrameSize", () => {
  const block = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
  const out = encodeHeaders(5, block, true, 4);
  assert.deepEqual(
    out,
    bytes(
      ...[0, 0, 4, FrameType.HEADERS, Flag.END_STREAM, 0, 0, 0, 5, 1, 2, 3, 4],
      ...[0, 0, 4, FrameType.CONTINUATION, 0, 0, 0, 0, 5, 5, 6, 7, 8],
      ...[0, 0, 2, FrameType.CONTINUATION, Flag.END_HEADERS, 0, 0, 0, 5, 9, 10],
    ),
  );
  // Exact multiple: no empty trailing CONTINUATION.
  const exact = encodeHeaders(1, block.subarray(0, 8), false, 4);
  assert.equal(exact.length, 2 * FRAME_HEADER_SIZE + 8);
  assert.equal(exact[13 + 3], FrameType.CONTINUATION);
  assert.equal(exact[13 + 4], Flag.END_HEADERS);
});

Deno.test("decodeSettings returns pairs in order, unknown ids included", () => {
  const frame = encodeSettings([
    [Setting.HEADER_TABLE_SIZE, 0],
    [Setting.MAX_FRAME_SIZE, 0xffffff],
    [0x99, 12345],
    [Setting.ENABLE_CONNECT_PROTOCOL, 1],
    [Setting.MAX_HEADER_LIST_SIZE, 0xffffffff],
  ]);
  assert.deepEqual(decodeSettings(frame.subarray(FRAME_HEADER_SIZE)), [
    [1, 0],
    [5, 0xffffff],
    [0x99, 12345],
    [8, 1],
    [6, 0xffffffff],
  ]);
  assert.deepEqual(decodeSettings(new Uint8Array(0)), []);
});

Deno.test("decodeSettings validates lengths and values", () => {
  const payload = (id: number, v: number) => encodeSettings([[id, v]]).subarray(FRAME_HEADER_SIZE);
  assertH2Error(() => decodeSettings(new Uint8Array(7)), ErrorCode.FRAME_SIZE_ERROR);
  assertH2Error(() => decodeSettings(payload(Setting.ENABLE_PUSH, 2)), ErrorCode.PROTOCOL_ERROR);
  assertH2Error(() => decodeSettings(payload(Setting.ENABLE_CONNECT_PROTOCOL, 2)), ErrorCode.PROTOCOL_ERROR);
  assertH2Error(
    () => decodeSettings(payload(Setting.INITIAL_WINDOW_SIZE, 2 ** 31)),
    ErrorCode.FLOW_CONTROL_ERROR,
  );
  assertH2Error(() => decodeSettings(payload(Setting.MAX_FRAME_SIZE, 16383)), ErrorCode.PROTOCOL_ERROR);
  assertH2Error(() => decodeSettings(payload(Setting.MAX_FRAME_SIZE, 2 ** 24)), ErrorCode.PROTOCOL_ERROR);
  assert.deepEqual(decodeSettings(payload(Setting.INITIAL_WINDOW_SIZE, 2 ** 31 - 1)), [[4, 2 ** 31 - 1]]);
  assert.deepEqual(decodeSettings(payload(Setting.MAX_FRAME_SIZE, 16384)), [[5, 16384]]);
  assert.deepEqual(decodeSettings(payload(Setting.ENABLE_PUSH, 1)), [[2, 1]]);
});
