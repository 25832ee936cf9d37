/**
 * HTTP/2 framing constants and frame encoders (RFC 9113 §4, §6). Every encoder returns one whole
 * frame (header + payload) in a single freshly allocated buffer, ready for one socket write.
 */
import { H2Error } from "./h2_error.ts";

export const FRAME_HEADER_SIZE = 9;

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  SETTINGS_TIMEOUT: 4,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
  ENABLE_CONNECT_PROTOCOL: 8,
} as const;

/** Largest flow-control window and WINDOW_UPDATE increment (2^31-1). */
export const MAX_WINDOW_SIZE = 0x7fffffff;
/** Bounds of SETTINGS_MAX_FRAME_SIZE; the lower bound is also the default. */
export const MIN_MAX_FRAME_SIZE = 16384;
export const MAX_MAX_FRAME_SIZE = 0xffffff;
/** GOAWAY debug data is cut to this many bytes so the frame fits any peer's frame size. */
export const MAX_GOAWAY_DEBUG = 1024;

/** The client connection preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4). */
export const CONNECTION_PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Writes a 9-byte frame header at `buf[offset]`, in place: DATA frames are sent zero-copy from a buffer
 * with FRAME_HEADER_SIZE bytes of headroom before the payload. The reserved bit is always cleared.
 * No validation: `length` must be < 2^24 and `streamId` < 2^31 (hot path).
 */
export function writeFrameHeader(
  buf: Uint8Array,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  buf[offset] = length >>> 16;
  buf[offset + 1] = length >>> 8;
  buf[offset + 2] = length;
  buf[offset + 3] = type;
  buf[offset + 4] = flags;
  buf[offset + 5] = (streamId >>> 24) & 0x7f;
  buf[offset + 6] = streamId >>> 16;
  buf[offset + 7] = streamId >>> 8;
  buf[offset + 8] = streamId;
}

/** Reads a big-endian unsigned 32-bit integer. */
export function readUint32(buf: Uint8Array, offset: number): number {
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0;
}

function writeUint32(buf: Uint8Array, offset: number, v: number): void {
  buf[offset] = v >>> 24;
  buf[offset + 1] = v >>> 16;
  buf[offset + 2] = v >>> 8;
  buf[offset + 3] = v;
}

function frame(length: number, type: number, flags: number, streamId: number): Uint8Array {
  const buf = new Uint8Array(FRAME_HEADER_SIZE + length);
  writeFrameHeader(buf, 0, length, type, flags, streamId);
  return buf;
}

/** A SETTINGS frame carrying the given [identifier, value] pairs in order. */
export function encodeSettings(settings: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const buf = frame(settings.length * 6, FrameType.SETTINGS, 0, 0);
  let o = FRAME_HEADER_SIZE;
  for (const [id, value] of settings) {
    buf[o] = id >>> 8;
    buf[o + 1] = id;
    writeUint32(buf, o + 2, value);
    o += 6;
  }
  return buf;
}

export function encodeSettingsAck(): Uint8Array {
  return frame(0, FrameType.SETTINGS, Flag.ACK, 0);
}

/** A PING (or PING ACK echoing the peer's opaque data) on stream 0. */
export function encodePing(opaque: Uint8Array, ack: boolean): Uint8Array {
  if (opaque.length !== 8) {
    throw new H2Error(`PING opaque data must be 8 bytes, got ${opaque.length}`, ErrorCode.INTERNAL_ERROR);
  }
  const buf = frame(8, FrameType.PING, ack ? Flag.ACK : 0, 0);
  buf.set(opaque, FRAME_HEADER_SIZE);
  return buf;
}

/** A GOAWAY; `debug` is sent UTF-8 encoded, cut to MAX_GOAWAY_DEBUG bytes. */
export function encodeGoaway(lastStreamId: number, code: number, debug?: string): Uint8Array {
  let data: Uint8Array | undefined;
  if (debug) {
    data = new TextEncoder().encode(debug);
    if (data.length > MAX_GOAWAY_DEBUG) data = data.subarray(0, MAX_GOAWAY_DEBUG);
  }
  const buf = frame(8 + (data ? data.length : 0), FrameType.GOAWAY, 0, 0);
  writeUint32(buf, FRAME_HEADER_SIZE, lastStreamId & MAX_WINDOW_SIZE);
  writeUint32(buf, FRAME_HEADER_SIZE + 4, code);
  if (data) buf.set(data, FRAME_HEADER_SIZE + 8);
  return buf;
}

export function encodeRstStream(streamId: number, code: number): Uint8Array {
  const buf = frame(4, FrameType.RST_STREAM, 0, streamId);
  writeUint32(buf, FRAME_HEADER_SIZE, code);
  return buf;
}

/** A WINDOW_UPDATE; `increment` must be in [1, 2^31-1]. */
export function encodeWindowUpdate(streamId: number, increment: number): Uint8Array {
  if (!(increment >= 1 && increment <= MAX_WINDOW_SIZE) || !Number.isInteger(increment)) {
    throw new H2Error(`invalid WINDOW_UPDATE increment ${increment}`, ErrorCode.INTERNAL_ERROR, streamId);
  }
  const buf = frame(4, FrameType.WINDOW_UPDATE, 0, streamId);
  writeUint32(buf, FRAME_HEADER_SIZE, increment);
  return buf;
}

/**
 * A header block as one HEADERS frame followed by as many CONTINUATION frames as `maxFrameSize`
 * (the peer's SETTINGS_MAX_FRAME_SIZE) requires, all in one buffer. END_STREAM goes on the HEADERS
 * frame, END_HEADERS on the last frame.
 */
export function encodeHeaders(
  streamId: number,
  block: Uint8Array,
  endStream: boolean,
  maxFrameSize: number,
): Uint8Array {
  const n = block.length;
  const frames = n === 0 ? 1 : Math.ceil(n / maxFrameSize);
  const buf = new Uint8Array(n + frames * FRAME_HEADER_SIZE);
  let src = 0;
  let o = 0;
  for (let i = 0; i < frames; i++) {
    const len = Math.min(maxFrameSize, n - src);
    let flags = i === frames - 1 ? Flag.END_HEADERS : 0;
    if (i === 0 && endStream) flags |= Flag.END_STREAM;
    writeFrameHeader(buf, o, len, i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION, flags, streamId);
    buf.set(block.subarray(src, src + len), o + FRAME_HEADER_SIZE);
    src += len;
    o += FRAME_HEADER_SIZE + len;
  }
  return buf;
}

/**
 * Decodes and validates a SETTINGS payload (RFC 9113 §6.5): all [identifier, value] pairs in order,
 * unknown identifiers included (receivers ignore them). Throws connection errors: FRAME_SIZE_ERROR
 * for a length not a multiple of 6, PROTOCOL_ERROR for ENABLE_PUSH / ENABLE_CONNECT_PROTOCOL not 0 or 1
 * and for MAX_FRAME_SIZE out of [2^14, 2^24-1], FLOW_CONTROL_ERROR for INITIAL_WINDOW_SIZE > 2^31-1.
 */
export function decodeSettings(payload: Uint8Array): Array<[number, number]> {
  if (payload.length % 6 !== 0) {
    throw new H2Error(`SETTINGS length ${payload.length} is not a multiple of 6`, ErrorCode.FRAME_SIZE_ERROR);
  }
  const out: Array<[number, number]> = [];
  for (let o = 0; o < payload.length; o += 6) {
    const id = (payload[o] << 8) | payload[o + 1];
    const value = readUint32(payload, o + 2);
    switch (id) {
      case Setting.ENABLE_PUSH:
      case Setting.ENABLE_CONNECT_PROTOCOL:
        if (value > 1) {
          throw new H2Error(`SETTINGS ${id} must be 0 or 1, got ${value}`, ErrorCode.PROTOCOL_ERROR);
        }
        break;
      case Setting.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW_SIZE) {
          throw new H2Error(`SETTINGS_INITIAL_WINDOW_SIZE ${value} too large`, ErrorCode.FLOW_CONTROL_ERROR);
        }
        break;
      case Setting.MAX_FRAME_SIZE:
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
          throw new H2Error(`SETTINGS_MAX_FRAME_SIZE ${value} out of range`, ErrorCode.PROTOCOL_ERROR);
        }
        break;
    }
    out.push([id, value]);
  }
  return out;
}
