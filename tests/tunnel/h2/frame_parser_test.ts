import assert from "node:assert/strict";
import {
  CONNECTION_PREFACE,
  encodePing,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  ErrorCode,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  writeFrameHeader,
} from "../../../lib/tunnel/h2/frame.ts";
import { FrameParser } from "../../../lib/tunnel/h2/frame_parser.ts";
import { H2Error } from "../../../lib/tunnel/h2/h2_error.ts";
import { concat } from "../../fakes/h2_streams.ts";

function frame(type: number, flags: number, id: number, payload: ArrayLike<number>): Uint8Array {
  const buf = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  writeFrameHeader(buf, 0, payload.length, type, flags, id);
  buf.set(payload, FRAME_HEADER_SIZE);
  return buf;
}

type FrameEvent = { type: number; flags: number; id: number; payload: number[] };

/** Records non-DATA frames (copied) and every DATA call as made. */
class Recorder {
  events: FrameEvent[] = [];
  calls: Array<{ id: number; data: Uint8Array; endStream: boolean; flow: number }> = [];

  onFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    this.events.push({ type, flags, id, payload: Array.from(payload) });
  }

  onData(id: number, data: Uint8Array, endStream: boolean, flow: number): void {
    assert.ok(flow >= data.length, "flowBytes covers the data");
    this.calls.push({ id, data, endStream, flow });
  }
}

function parseChunks(chunks: Uint8Array[], preface = false): Recorder {
  const rec = new Recorder();
  const parser = new FrameParser(rec);
  if (preface) parser.expectPreface();
  for (const c of chunks) {
    const copy = c.slice();
    parser.push(c);
    assert.deepEqual(c, copy, "the parser must not mutate chunks");
  }
  return rec;
}

/** Merges per-frame DATA calls given the frames' lengths (to check sums independently of the recorder). */
function dataFrames(
  calls: Recorder["calls"],
  lengths: number[],
): Array<{ id: number; data: number[]; end: boolean }> {
  const out: Array<{ id: number; data: number[]; end: boolean }> = [];
  let i = 0;
  for (const len of lengths) {
    const id = calls[i]?.id;
    const data: number[] = [];
    let flow = 0;
    let end = false;
    do {
      const c = calls[i++];
      assert.ok(c, "missing DATA call");
      assert.equal(end, false, "endStream only on the last piece");
      assert.equal(c.id, id);
      data.push(...c.data);
      flow += c.flow;
      end = c.endStream;
    } while (flow < len);
    assert.equal(flow, len, "flowBytes sum to the frame length");
    out.push({ id, data, end });
  }
  assert.equal(i, calls.length, "no extra DATA calls");
  return out;
}

const enc = new TextEncoder();
const FRAMES = [
  encodeSettings([[4, 65535], [5, 16384]]),
  frame(FrameType.HEADERS, Flag.END_HEADERS, 1, [0x82, 0x87, 0x84]),
  frame(FrameType.DATA, 0, 1, enc.encode("hello")),
  frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, [3, 0x61, 0x62, 0, 0, 0]),
  encodePing(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), false),
  frame(FrameType.DATA, 0, 3, []),
  frame(FrameType.DATA, Flag.PADDED, 3, [2, 0, 0]),
  frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 3, [0]),
  encodeWindowUpdate(0, 1000),
  encodeSettingsAck(),
  frame(0xfa, 0xff, 7, [9, 9]), // unknown type: passed through
];
const DATA_LENGTHS = [5, 6, 0, 3, 1];
const EXPECTED_DATA = [
  { id: 1, data: Array.from(enc.encode("hello")), end: false },
  { id: 1, data: [0x61, 0x62], end: true },
  { id: 3, data: [], end: false },
  { id: 3, data: [], end: false },
  { id: 3, data: [], end: true },
];

function checkAll(rec: Recorder): void {
  assert.deepEqual(dataFrames(rec.calls, DATA_LENGTHS), EXPECTED_DATA);
  assert.deepEqual(
    rec.events.map((e) => [e.type, e.flags, e.id, e.payload.length]),
    [[4, 0, 0, 12], [1, 4, 1, 3], [6, 0, 0, 8], [8, 0, 0, 4], [4, 1, 0, 0], [0xfa, 0xff, 7, 2]],
  );
  assert.deepEqual(rec.events[1].payload, [0x82, 0x87, 0x84]);
  assert.deepEqual(rec.events[2].payload, [1, 2, 3, 4, 5, 6, 7, 8]);
}

Deno.test("parser: whole stream in one chunk; non-DATA payloads and DATA are views of the chunk", () => {
  const all = concat(FRAMES);
  const views: Uint8Array[] = [];
  const rec = new Recorder();
  const parser = new FrameParser({
    onFrame: (t, f, id, p) => {
      views.push(p);
      rec.onFrame(t, f, id, p);
    },
    onData: (id, d, e, fb) => {
      if (d.length) views.push(d);
      rec.onData(id, d, e, fb);
    },
  });
  parser.push(all);
  checkAll(rec);
  for (const v of views.filter((v) => v.length > 0)) assert.equal(v.buffer, all.buffer, "zero copy");
});

Deno.test("parser: split at every byte boundary (one and two splits)", () => {
  const all = concat(FRAMES);
  for (let i = 0; i <= all.length; i++) {
    checkAll(parseChunks([all.subarray(0, i), all.subarray(i)]));
  }
  for (let i = 1; i < all.length; i += 3) {
    for (let j = i; j <= all.length; j++) {
      checkAll(parseChunks([all.subarray(0, i), all.subarray(i, j), all.subarray(j)]));
    }
  }
  checkAll(parseChunks(Array.from(all, (b) => Uint8Array.of(b)))); // byte by byte
});

Deno.test("parser: client preface first, split anywhere; a wrong preface is PROTOCOL_ERROR", () => {
  const all = concat([CONNECTION_PREFACE, ...FRAMES]);
  for (let i = 0; i <= all.length; i++) {
    checkAll(parseChunks([all.subarray(0, i), all.subarray(i)], true));
  }
  const bad = all.slice();
  bad[10] ^= 1;
  for (
    const chunks of [[bad], [bad.subarray(0, 5), bad.subarray(5)], [bad.subarray(0, 11), bad.subarray(11)]]
  ) {
    assert.throws(() => parseChunks(chunks, true), (e: unknown) => {
      assert.ok(e instanceof H2Error);
      assert.equal(e.code, ErrorCode.PROTOCOL_ERROR);
      return true;
    });
  }
  // Without expectPreface the preface bytes are just a (too large) frame header.
  assert.throws(() => parseChunks([all]), H2Error);
});

Deno.test("parser: a 1 MiB DATA frame is streamed chunk by chunk, never buffered", () => {
  const size = 1 << 20;
  const payload = Uint8Array.from({ length: size }, (_, i) => i * 7);
  const wire = frame(FrameType.DATA, Flag.END_STREAM, 5, payload);
  const rec = new Recorder();
  const parser = new FrameParser(rec, size);
  const chunkSize = 16 * 1024 + 3;
  let received = 0;
  for (let o = 0; o < wire.length; o += chunkSize) {
    const chunk = wire.subarray(o, o + chunkSize);
    const before = rec.calls.length;
    parser.push(chunk);
    // Every chunk (all but possibly the header-only start) is delivered at once, as one view of it.
    const got = rec.calls.slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0].data.buffer, wire.buffer);
    assert.equal(got[0].data.byteOffset, Math.max(o, FRAME_HEADER_SIZE));
    received += got[0].data.length;
    assert.equal(received, Math.min(o + chunk.length - FRAME_HEADER_SIZE, size));
  }
  assert.deepEqual(dataFrames(rec.calls, [size]), [{ id: 5, data: Array.from(payload), end: true }]);
  assert.equal(rec.calls.filter((c) => c.endStream).length, 1);
});

Deno.test("parser: padded DATA strips padding; padding still counts in flowBytes", () => {
  // 1 pad-length byte + 4 data + 10 padding = 15 flow bytes.
  const wire = frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, [
    10,
    1,
    2,
    3,
    4,
    ...new Array(10).fill(0),
  ]);
  // Whole: one call carrying all 15 flow bytes.
  let rec = parseChunks([wire]);
  assert.deepEqual(rec.calls.map((c) => [Array.from(c.data), c.endStream, c.flow]), [[
    [1, 2, 3, 4],
    true,
    15,
  ]]);
  // Split inside the padding: data first, then a zero-length call with the rest of the padding.
  rec = parseChunks([wire.subarray(0, FRAME_HEADER_SIZE + 8), wire.subarray(FRAME_HEADER_SIZE + 8)]);
  assert.deepEqual(rec.calls.map((c) => [Array.from(c.data), c.endStream, c.flow]), [
    [[1, 2, 3, 4], false, 8],
    [[], true, 7],
  ]);
  // Split right after the pad length byte: it is accounted with the first data piece.
  rec = parseChunks([wire.subarray(0, FRAME_HEADER_SIZE + 1), wire.subarray(FRAME_HEADER_SIZE + 1, 12)]);
  assert.deepEqual(rec.calls.map((c) => [Array.from(c.data), c.endStream, c.flow]), [[[1, 2], false, 3]]);
});

Deno.test("parser: malformed padding and oversize frames are connection errors; errors are sticky", () => {
  const cases: Array<[Uint8Array, number]> = [
    [frame(FrameType.DATA, Flag.PADDED, 1, [3, 0, 0]), ErrorCode.PROTOCOL_ERROR], // pad > remaining
    [frame(FrameType.DATA, Flag.PADDED, 1, [1]), ErrorCode.PROTOCOL_ERROR], // pad == length
    [frame(FrameType.DATA, Flag.PADDED, 1, []), ErrorCode.FRAME_SIZE_ERROR], // no pad length byte
    [frame(FrameType.DATA, 0, 1, new Uint8Array(16385)), ErrorCode.FRAME_SIZE_ERROR],
    [frame(FrameType.SETTINGS, 0, 0, new Uint8Array(16385)), ErrorCode.FRAME_SIZE_ERROR],
  ];
  for (const [wire, code] of cases) {
    // The error is raised as soon as the offending bytes arrive: the header (or pad byte) suffices.
    const parser = new FrameParser(new Recorder());
    const head = wire.subarray(0, Math.min(wire.length, FRAME_HEADER_SIZE + 1));
    let err: unknown;
    try {
      parser.push(head);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof H2Error, `code ${code}`);
    assert.equal(err.code, code);
    assert.equal(err.streamId, 0);
    assert.throws(() => parser.push(encodeSettingsAck()), (e: unknown) => e === err);
  }
  // A larger maxFrameSize (settable) admits the frame.
  const parser = new FrameParser(new Recorder());
  parser.maxFrameSize = 1 << 20;
  parser.push(frame(FrameType.SETTINGS, 0, 0, new Uint8Array(16386)));
});

Deno.test("parser: split control frames are reassembled, large ones too", () => {
  const big = Uint8Array.from({ length: 40000 }, (_, i) => i % 251);
  const small = Uint8Array.from({ length: 300 }, (_, i) => 255 - (i % 256));
  const wire = concat([
    frame(FrameType.HEADERS, 0, 1, small),
    frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, big),
    frame(FrameType.HEADERS, Flag.END_HEADERS, 3, small),
  ]);
  for (const step of [1000, 4096, 16384, 39999]) {
    const rec = new Recorder();
    const parser = new FrameParser(rec, 65536);
    for (let o = 0; o < wire.length; o += step) parser.push(wire.subarray(o, o + step));
    assert.deepEqual(rec.events, [
      { type: FrameType.HEADERS, flags: 0, id: 1, payload: Array.from(small) },
      { type: FrameType.CONTINUATION, flags: Flag.END_HEADERS, id: 1, payload: Array.from(big) },
      { type: FrameType.HEADERS, flags: Flag.END_HEADERS, id: 3, payload: Array.from(small) },
    ], `step ${step}`);
  }
});

Deno.test("parser: reserved stream id bit is ignored; empty pushes are harmless", () => {
  const wire = frame(FrameType.RST_STREAM, 0, 9, [0, 0, 0, 8]);
  wire[5] |= 0x80;
  const rec = new Recorder();
  const parser = new FrameParser(rec);
  parser.push(new Uint8Array(0));
  parser.push(wire);
  parser.push(new Uint8Array(0));
  assert.deepEqual(rec.events, [{ type: FrameType.RST_STREAM, flags: 0, id: 9, payload: [0, 0, 0, 8] }]);
});
