/**
 * Test harness for H2Session unit tests: an in-memory H2Socket (congestion, pause and close under the
 * test's control) with a raw HTTP/2 peer on the other end that writes hand-built frames and decodes
 * every frame the session writes.
 */
import type { H2Socket } from "../../../lib/tunnel/h2/h2_socket.ts";
import {
  CONNECTION_PREFACE,
  encodeHeaders,
  encodeSettings,
  encodeSettingsAck,
  FRAME_HEADER_SIZE,
  FrameType,
  readUint32,
  writeFrameHeader,
} from "../../../lib/tunnel/h2/frame.ts";
import { FrameParser } from "../../../lib/tunnel/h2/frame_parser.ts";
import { HpackDecoder, HpackEncoder } from "../../../lib/tunnel/h2/hpack.ts";
import { H2Session } from "../../../lib/tunnel/h2/session.ts";
import type { H2Options } from "../../../lib/tunnel/h2/h2_options.ts";
import type { H2ViolationKind } from "../../../lib/tunnel/h2/h2_error.ts";
import type { H2Stream } from "../../../lib/tunnel/h2/stream.ts";

type Listener = (a?: unknown) => void;

/** An H2Socket whose other end is the test. */
export class FakeSocket implements H2Socket {
  /** write() returns false (over the high-water mark) while set; `drain()` clears it. */
  congested = false;
  paused = false;
  ended = false;
  destroyed = false;
  pauses = 0;
  #listeners = new Map<string, Listener[]>();
  onWrite: (data: Uint8Array) => void = () => {};

  constructor(readonly pausable = true) {
    if (!pausable) {
      this.pause = undefined;
      this.resume = undefined;
    }
  }

  write(data: Uint8Array, flushed?: () => void): boolean {
    if (!this.destroyed) this.onWrite(data.slice());
    if (flushed) queueMicrotask(flushed);
    return !this.congested;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit("close");
  }
  pause?: () => void = () => {
    this.paused = true;
    this.pauses++;
  };
  resume?: () => void = () => {
    this.paused = false;
  };
  on(event: string, fn: (...a: never[]) => void): this {
    const l = this.#listeners.get(event) ?? [];
    l.push(fn as Listener);
    this.#listeners.set(event, l);
    return this;
  }
  emit(event: string, arg?: unknown): void {
    for (const fn of this.#listeners.get(event) ?? []) fn(arg);
  }
  /** Bytes from the peer, as one read chunk. */
  deliver(bytes: Uint8Array): void {
    this.emit("data", bytes);
  }
  drain(): void {
    this.congested = false;
    this.emit("drain");
  }
}

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Uint8Array;
}

/** The test's side: frames out (built here), frames in (everything the session wrote, decoded). */
export class RawPeer {
  readonly frames: Frame[] = [];
  readonly encoder = new HpackEncoder();
  readonly decoder = new HpackDecoder(4096, 1 << 20);
  #parser: FrameParser;
  #data = new Map<number, { type: number; flags: number; parts: Uint8Array[]; got: number }>();

  constructor(readonly socket: FakeSocket, expectPreface: boolean) {
    this.#parser = new FrameParser({
      onFrame: (type, flags, streamId, payload) =>
        this.frames.push({ type, flags, streamId, payload: payload.slice() }),
      onData: (streamId, data, endStream, _flow, last) => {
        const d = this.#data.get(streamId) ?? { type: FrameType.DATA, flags: 0, parts: [], got: 0 };
        d.parts.push(data.slice());
        if (!last) return this.#data.set(streamId, d);
        this.#data.delete(streamId);
        const payload = join(d.parts);
        this.frames.push({ type: FrameType.DATA, flags: endStream ? 1 : 0, streamId, payload });
      },
    }, 1 << 24);
    if (expectPreface) this.#parser.expectPreface();
    socket.onWrite = (b) => this.#parser.push(b);
  }

  send(...frames: Uint8Array[]): void {
    this.socket.deliver(join(frames));
  }

  of(type: number): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }
  goaway(): { lastStreamId: number; code: number; debug: string } | undefined {
    const f = this.of(FrameType.GOAWAY).at(-1);
    if (!f) return undefined;
    return {
      lastStreamId: readUint32(f.payload, 0) & 0x7fffffff,
      code: readUint32(f.payload, 4),
      debug: new TextDecoder().decode(f.payload.subarray(8)),
    };
  }
  /** RST_STREAM frames as [stream id, code]. */
  rsts(): Array<[number, number]> {
    return this.of(FrameType.RST_STREAM).map((f) => [f.streamId, readUint32(f.payload, 0)]);
  }
  /** Response / request header lists, decoded in order, with their stream ids. */
  headers(): Array<[number, Array<[string, string]>]> {
    return this.of(FrameType.HEADERS).map((f) => [f.streamId, this.decoder.decode(f.payload)]);
  }
  request(id: number, authority = "10.0.0.1:80", endStream = false): Uint8Array {
    return encodeHeaders(
      id,
      this.encoder.encode([[":method", "CONNECT"], [":authority", authority]]),
      endStream,
      16384,
    );
  }
}

/** One frame, built by hand (any type, flags, stream and payload, valid or not). */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array | number[] = [],
): Uint8Array {
  const p = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  const buf = new Uint8Array(FRAME_HEADER_SIZE + p.length);
  writeFrameHeader(buf, 0, p.length, type, flags, streamId);
  buf.set(p, FRAME_HEADER_SIZE);
  return buf;
}

export function u32(v: number): number[] {
  return [v >>> 24 & 0xff, v >>> 16 & 0xff, v >>> 8 & 0xff, v & 0xff];
}

export function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Small windows and no timers unless a test asks: a session the test drives frame by frame. */
export const TEST_OPTIONS: H2Options = {
  streamWindow: 65535,
  connectionWindow: 65535,
  maxFrameSize: 16384,
  maxConcurrentStreams: 100,
  maxHeaderListSize: 16 * 1024,
  prefaceTimeoutMs: 0,
  keepaliveIntervalMs: 0,
};

export interface Harness {
  readonly session: H2Session;
  readonly socket: FakeSocket;
  readonly peer: RawPeer;
  /** Streams handed to onStream (server). */
  readonly dispatched: H2Stream[];
  readonly violations: Array<[H2ViolationKind, string]>;
}

/** A server session with its client peer past the handshake (preface, SETTINGS both ways). */
export function serverHarness(opts: Partial<H2Options> = {}, pausable = true): Harness {
  const socket = new FakeSocket(pausable);
  const peer = new RawPeer(socket, false);
  const session = new H2Session(socket, "server", { ...TEST_OPTIONS, ...opts });
  const dispatched: H2Stream[] = [];
  const violations: Array<[H2ViolationKind, string]> = [];
  session.onStream = (s) => dispatched.push(s);
  session.onViolation = (k, d) => violations.push([k, d]);
  peer.send(CONNECTION_PREFACE, encodeSettings([]), encodeSettingsAck());
  return { session, socket, peer, dispatched, violations };
}

/** A client session with its server peer past the handshake. */
export function clientHarness(opts: Partial<H2Options> = {}, pausable = true): Harness {
  const socket = new FakeSocket(pausable);
  const peer = new RawPeer(socket, true);
  const session = new H2Session(socket, "client", { ...TEST_OPTIONS, ...opts });
  const violations: Array<[H2ViolationKind, string]> = [];
  session.onViolation = (k, d) => violations.push([k, d]);
  peer.send(encodeSettings([]), encodeSettingsAck());
  return { session, socket, peer, dispatched: [], violations };
}

/** Ends a harness's session so no timer outlives the test. */
export async function shut(h: Harness): Promise<void> {
  h.session.close();
  h.socket.destroy();
  await h.session.closed;
}

/** Two in-memory sockets wired back to back (each write arrives at the other in a later microtask). */
export function socketPair(): [FakeSocket, FakeSocket] {
  const a = new FakeSocket();
  const b = new FakeSocket();
  const wire = (from: FakeSocket, to: FakeSocket) => {
    from.onWrite = (data) => queueMicrotask(() => to.destroyed || to.deliver(data));
    const end = from.end.bind(from);
    from.end = () => {
      end();
      queueMicrotask(() => {
        from.destroy();
        to.destroy();
      });
    };
  };
  wire(a, b);
  wire(b, a);
  const destroy = (s: FakeSocket, other: FakeSocket) => {
    const d = s.destroy.bind(s);
    s.destroy = () => {
      if (s.destroyed) return;
      d();
      queueMicrotask(() => other.destroy());
    };
  };
  destroy(a, b);
  destroy(b, a);
  return [a, b];
}

/** A client and a server session over a socketPair, with zt's test options. */
export function sessionPair(opts: Partial<H2Options> = {}): {
  client: H2Session;
  server: H2Session;
  dispatched: H2Stream[];
  clientSocket: FakeSocket;
  serverSocket: FakeSocket;
} {
  const [clientSocket, serverSocket] = socketPair();
  const client = new H2Session(clientSocket, "client", { ...TEST_OPTIONS, ...opts });
  const server = new H2Session(serverSocket, "server", { ...TEST_OPTIONS, ...opts });
  const dispatched: H2Stream[] = [];
  server.onStream = (s) => dispatched.push(s);
  return { client, server, dispatched, clientSocket, serverSocket };
}

/** Resolves once `cond` holds (polled every few ms), or rejects after `ms`. */
export async function until(cond: () => boolean, ms = 2000, what = "condition"): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
