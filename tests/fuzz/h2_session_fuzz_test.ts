/**
 * Property-based fuzzing of zt's HTTP/2 input path: FrameParser on random bytes, and H2Session (server
 * and client role) fed random and mutated frame sequences in random chunkings. Whatever arrives, the
 * session never throws out of its socket callback, reports at most one violation (with a GOAWAY or a
 * dropped socket), keeps its stream count within limits and writes at most a bounded multiple of
 * what it read (no amplification, no unbounded queue).
 */
import fc from "fast-check";
import { fuzzParams } from "./budget.ts";
import {
  CONNECTION_PREFACE,
  encodeSettings,
  encodeSettingsAck,
  ErrorCode,
  FrameType,
} from "../../lib/tunnel/h2/frame.ts";
import { FrameParser } from "../../lib/tunnel/h2/frame_parser.ts";
import { H2Error } from "../../lib/tunnel/h2/h2_error.ts";
import { HpackEncoder } from "../../lib/tunnel/h2/hpack.ts";
import { H2Session } from "../../lib/tunnel/h2/session.ts";
import type { H2Options } from "../../lib/tunnel/h2/h2_options.ts";
import { FakeSocket, frame, join } from "../tunnel/h2/h2_test_peer.ts";

const OPTS: H2Options = {
  streamWindow: 65535,
  connectionWindow: 65535,
  maxFrameSize: 16384,
  maxConcurrentStreams: 8,
  maxHeaderListSize: 4096,
  prefaceTimeoutMs: 0,
  keepaliveIntervalMs: 0,
};

const encoder = new HpackEncoder();
const u32 = fc.oneof(fc.constantFrom(0, 1, 65535, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat());
const streamId = fc.oneof(fc.constantFrom(0, 1, 2, 3, 5, 7, 9), fc.integer({ min: 0, max: 0x7fffffff }));
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const be32 = (v: number) => [v >>> 24 & 255, v >>> 16 & 255, v >>> 8 & 255, v & 255];

/** A header block: a valid CONNECT / GET / response, or random bytes. */
const block = fc.oneof(
  fc.string({ maxLength: 20 }).map((a) =>
    encoder.encode([[":method", "CONNECT"], [":authority", `${a}:80`]])
  ),
  fc.constant(encoder.encode([[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "a"]])),
  fc.constant(encoder.encode([[":status", "200"]])),
  bytes(40),
);

/** One frame, mostly well-formed in shape, with random ids, flags and values. */
const anyFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(fc.constantFrom(0, 1, 8, 9), streamId, bytes(300)).map(([f, id, p]) =>
    frame(FrameType.DATA, f, id, p)
  ),
  fc.tuple(fc.integer({ min: 0, max: 0x2d }), streamId, block).map(([f, id, b]) =>
    frame(FrameType.HEADERS, f, id, b)
  ),
  fc.tuple(streamId, fc.integer({ min: 0, max: 8 })).map(([id, n]) =>
    frame(FrameType.PRIORITY, 0, id, [...be32(1), 16].slice(0, n))
  ),
  fc.tuple(streamId, u32).map(([id, c]) => frame(FrameType.RST_STREAM, 0, id, be32(c))),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), u32), { maxLength: 5 }).map((s) => encodeSettings(s)),
  fc.tuple(fc.constantFrom(0, 1), bytes(12)).map(([f, p]) => frame(FrameType.SETTINGS, f, 0, p)),
  fc.tuple(fc.constantFrom(0, 1), streamId, bytes(10)).map(([f, id, p]) => frame(FrameType.PING, f, id, p)),
  fc.tuple(u32, u32, bytes(8)).map(([l, c, d]) =>
    frame(FrameType.GOAWAY, 0, 0, [...be32(l), ...be32(c), ...d])
  ),
  fc.tuple(streamId, u32).map(([id, inc]) => frame(FrameType.WINDOW_UPDATE, 0, id, be32(inc))),
  fc.tuple(fc.constantFrom(0, 4), streamId, block).map(([f, id, b]) =>
    frame(FrameType.CONTINUATION, f, id, b)
  ),
  fc.tuple(streamId, bytes(20)).map(([id, p]) => frame(FrameType.PUSH_PROMISE, 4, id, p)),
  fc.tuple(fc.integer({ min: 10, max: 255 }), fc.nat(255), streamId, bytes(20)).map(([t, f, id, p]) =>
    frame(t, f, id, p)
  ),
  bytes(30), // raw garbage
);

/** Random cut points: the same bytes arrive as 1..n chunks. */
function chunked(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, data.length]) {
    if (c > prev) out.push(data.slice(prev, c));
    prev = c;
  }
  return out;
}

/** Flips, drops and inserts bytes. */
function mutate(data: Uint8Array, edits: Array<[number, number, number]>): Uint8Array {
  const b = [...data];
  for (const [kind, pos, v] of edits) {
    const i = b.length ? pos % b.length : 0;
    if (kind === 0) b[i] = v;
    else if (kind === 1) b.splice(i, 1);
    else b.splice(i, 0, v);
  }
  return new Uint8Array(b);
}

interface Outcome {
  written: number;
  violations: number;
  goaway: boolean;
}

/** Runs one session over a fake socket with an app that answers, reads and sometimes never reads. */
function run(
  role: "server" | "client",
  input: Uint8Array[],
  flips: boolean[] = [],
  pausable = true,
): Outcome {
  const socket = new FakeSocket(pausable);
  let written = 0;
  let goaway = false;
  const parser = new FrameParser({
    onFrame: (type) => void (type === FrameType.GOAWAY && (goaway = true)),
    onData: () => {},
  }, 1 << 24);
  if (role === "client") parser.expectPreface();
  socket.onWrite = (b) => {
    written += b.length;
    try {
      parser.push(b);
    } catch (e) {
      throw new Error(`the session wrote malformed HTTP/2: ${e}`);
    }
  };
  const session = new H2Session(socket, role, OPTS);
  let violations = 0;
  session.onViolation = () => violations++;
  let n = 0;
  session.onStream = (s) => {
    const k = n++ % 3;
    if (k === 0) session.respond(s, [[":status", "200"]], false);
    if (k === 1) s.attach({ onData: (c) => s.release(c.length), onEnd: () => s.end(), onError: () => {} });
    if (k === 2) s.reset(8);
  };
  if (role === "client") {
    for (let i = 0; i < 3; i++) session.request([[":method", "CONNECT"], [":authority", `10.0.0.${i}:80`]]);
  }
  const before = written;
  let read = 0;
  for (const [i, c] of input.entries()) {
    read += c.length;
    if (flips[i]) {
      // The socket's write queue crosses its high-water mark, or drains.
      if (socket.congested) socket.drain();
      else socket.congested = true;
    }
    socket.deliver(c); // must not throw
    if (session.activeStreams > OPTS.maxConcurrentStreams + 3) throw new Error("stream limit passed");
  }
  if (written - before > 3 * read + 4096) throw new Error(`wrote ${written - before} bytes for ${read} read`);
  const err = session.error;
  if (err instanceof H2Error && err.code === ErrorCode.INTERNAL_ERROR) throw err.cause ?? err; // a bug of ours
  session.close();
  socket.destroy();
  return { written, violations, goaway };
}

function check(o: Outcome): void {
  if (o.violations > 1) throw new Error(`${o.violations} violations reported`);
}

const serverPrefix = join([CONNECTION_PREFACE, encodeSettings([]), encodeSettingsAck()]);
const clientPrefix = join([encodeSettings([]), encodeSettingsAck()]);

Deno.test("fuzz h2: FrameParser on random bytes throws only H2Error", () => {
  fc.assert(
    fc.property(fc.boolean(), bytes(600), fc.array(fc.nat(), { maxLength: 6 }), (preface, data, cuts) => {
      const p = new FrameParser({ onFrame: () => {}, onData: () => {} }, 16384);
      if (preface) p.expectPreface();
      try {
        for (const c of chunked(data, cuts)) p.push(c);
      } catch (e) {
        if (!(e instanceof H2Error)) throw e;
      }
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz h2: a server session fed random frame sequences stays within its limits", () => {
  fc.assert(
    fc.property(
      fc.array(anyFrame, { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (frames, cuts) => {
        check(run("server", chunked(join([serverPrefix, ...frames]), cuts)));
      },
    ),
    fuzzParams(),
  );
});

Deno.test("fuzz h2: a server session on a socket that congests and drains at random stays within its limits", () => {
  fc.assert(
    fc.property(
      fc.array(anyFrame, { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.boolean(), { maxLength: 12 }),
      fc.boolean(),
      (frames, cuts, flips, pausable) => {
        check(run("server", chunked(join([serverPrefix, ...frames]), cuts), flips, pausable));
      },
    ),
    fuzzParams(),
  );
});

Deno.test("fuzz h2: a server session fed mutated valid sequences stays within its limits", () => {
  const valid = fc.array(
    fc.oneof(
      fc.nat(20).map((i) =>
        frame(
          FrameType.HEADERS,
          4,
          1 + 2 * i,
          encoder.encode([[":method", "CONNECT"], [":authority", "a:1"]]),
        )
      ),
      fc.tuple(fc.nat(20), bytes(100)).map(([i, p]) => frame(FrameType.DATA, 0, 1 + 2 * i, p)),
      fc.nat(20).map((i) => frame(FrameType.RST_STREAM, 0, 1 + 2 * i, be32(8))),
      fc.constant(frame(FrameType.PING, 0, 0, new Uint8Array(8))),
      fc.nat(20).map((i) => frame(FrameType.WINDOW_UPDATE, 0, 1 + 2 * i, be32(1000))),
    ),
    { maxLength: 30 },
  );
  const edit = fc.tuple(fc.nat(2), fc.nat(), fc.nat(255));
  fc.assert(
    fc.property(
      valid,
      fc.array(edit, { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (frames, edits, cuts) => {
        const body = mutate(join(frames), edits);
        check(run("server", chunked(join([serverPrefix, body]), cuts)));
      },
    ),
    fuzzParams(),
  );
});

Deno.test("fuzz h2: a client session fed random frame sequences stays within its limits", () => {
  fc.assert(
    fc.property(
      fc.array(anyFrame, { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (frames, cuts) => {
        check(run("client", chunked(join([clientPrefix, ...frames]), cuts)));
      },
    ),
    fuzzParams(),
  );
});
