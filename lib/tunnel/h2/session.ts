/**
 * A minimal HTTP/2 connection for HBONE (RFC 9113), client or server, over any byte socket
 * (node:tls in practice): CONNECT streams only, full flow control, HPACK, SETTINGS, PING, GOAWAY.
 */
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
  FrameType,
  Setting,
} from "./frame.ts";
import { FrameParser } from "./frame_parser.ts";
import { HpackDecoder, HpackEncoder } from "./hpack.ts";
import { H2Error } from "./h2_error.ts";
import { H2Stream, type Headers, type StreamOwner } from "./stream.ts";
import type { BufferLease } from "./buffer_lease.ts";

/** The byte transport under a session: node:tls / node:net sockets fit as they are. */
export interface H2Socket {
  /** `flushed`: called once the socket no longer needs `data` (node:tls: written to the handle). */
  write(data: Uint8Array, flushed?: () => void): boolean;
  cork?(): void;
  uncork?(): void;
  end(): void;
  destroy(err?: Error): void;
  /** Opt in to leased, reused receive buffers (sockets that can; node:tls cannot). */
  reuseReceiveBuffers?(): void;
  /** `lease`, when given: retain it to keep a view of `chunk` past the callback (see buffer_lease.ts). */
  on(event: "data", fn: (chunk: Uint8Array, lease?: BufferLease) => void): unknown;
  on(event: "drain" | "close", fn: () => void): unknown;
  on(event: "error", fn: (e: Error) => void): unknown;
}

export interface H2Options {
  /** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE). */
  readonly streamWindow: number;
  /** Our receive window for the connection. */
  readonly connectionWindow: number;
  /** Our SETTINGS_MAX_FRAME_SIZE. */
  readonly maxFrameSize: number;
  /** Streams the peer may open towards us (server side). */
  readonly maxConcurrentStreams: number;
  readonly maxHeaderListSize: number;
}

export const DEFAULT_H2_OPTIONS: H2Options = {
  streamWindow: 4 * 1024 * 1024,
  connectionWindow: 16 * 1024 * 1024,
  maxFrameSize: 1024 * 1024,
  maxConcurrentStreams: 200,
  maxHeaderListSize: 64 * 1024,
};

const DEFAULT_WINDOW = 65535;

export class H2Session implements StreamOwner {
  readonly streams = new Map<number, H2Stream>();
  peerMaxFrameSize = 16384;
  peerInitialWindow = DEFAULT_WINDOW;
  peerMaxConcurrentStreams = Infinity;
  connSendWindow = DEFAULT_WINDOW;
  #connUnacked = 0;
  /** The lease of the chunk being parsed, when the socket lends its buffers. */
  #lease: BufferLease | undefined;
  #nextStreamId: number;
  #lastPeerStreamId = 0;
  #parser: FrameParser;
  #decoder: HpackDecoder;
  #encoder = new HpackEncoder();
  #headerBlock?: { streamId: number; flags: number; parts: Uint8Array[] };
  #needDrain = false;
  #drainWaiters: Array<() => void> = [];
  #connWindowWaiters: Array<() => void> = [];
  #goawaySent = false;
  #goawayReceived = false;
  #closed = false;
  #closedResolve!: () => void;
  readonly closed = new Promise<void>((r) => (this.#closedResolve = r));
  /** Server side: a new stream with its request headers. */
  onStream?: (stream: H2Stream) => void;
  /** Called when the session stops taking new streams (GOAWAY either way) or closes. */
  onUnavailable?: () => void;
  /** Called whenever a stream closes (pools track their capacity with it). */
  onStreamClosed?: (stream: H2Stream) => void;
  error?: Error;

  constructor(readonly socket: H2Socket, readonly role: "client" | "server", readonly opts: H2Options) {
    this.#nextStreamId = role === "client" ? 1 : 2;
    this.#decoder = new HpackDecoder(4096, opts.maxHeaderListSize);
    this.#parser = new FrameParser(
      {
        onFrame: (t, f, id, p) => this.#onFrame(t, f, id, p),
        onData: (id, d, e, fb) => this.#onData(id, d, e, fb),
      },
      opts.maxFrameSize,
    );
    if (role === "server") this.#parser.expectPreface();
    socket.on("data", (chunk, lease) => {
      this.#lease = lease;
      try {
        this.#parser.push(chunk);
      } catch (e) {
        this.#connectionError(e instanceof H2Error ? e : new H2Error(String(e), ErrorCode.PROTOCOL_ERROR, 0));
      } finally {
        this.#lease = undefined;
      }
    });
    // DATA views leave this session only through H2Stream, which retains and releases their lease.
    socket.reuseReceiveBuffers?.();
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (e) => this.#terminate(e));
    socket.on("close", () => this.#terminate(new H2Error("connection closed", ErrorCode.NO_ERROR, 0)));
    const settings: Array<[number, number]> = [
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, opts.streamWindow],
      [Setting.MAX_FRAME_SIZE, opts.maxFrameSize],
      [Setting.MAX_HEADER_LIST_SIZE, opts.maxHeaderListSize],
    ];
    if (role === "server") settings.push([Setting.MAX_CONCURRENT_STREAMS, opts.maxConcurrentStreams]);
    const parts = [encodeSettings(settings)];
    if (role === "client") parts.unshift(CONNECTION_PREFACE);
    if (opts.connectionWindow > DEFAULT_WINDOW) {
      parts.push(encodeWindowUpdate(0, opts.connectionWindow - DEFAULT_WINDOW));
    }
    this.write(concat(parts));
  }

  get isClosed(): boolean {
    return this.#closed;
  }
  /** True while new streams may be opened on this session. */
  get available(): boolean {
    return !this.#closed && !this.#goawayReceived && !this.#goawaySent;
  }
  get activeStreams(): number {
    return this.streams.size;
  }

  // ---- client side ----

  /** Opens a stream with the given request headers (pseudo-headers first). */
  request(headers: Headers): H2Stream {
    if (!this.available) {
      throw new H2Error("session not available for new streams", ErrorCode.REFUSED_STREAM, 0);
    }
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new H2Stream(id, this, this.peerInitialWindow);
    stream.response = new Promise<Headers>((resolve, reject) => {
      stream.responseResolve = resolve;
      stream.responseReject = reject;
    });
    this.streams.set(id, stream);
    this.write(encodeHeaders(id, this.#encoder.encode(headers), false, this.peerMaxFrameSize));
    return stream;
  }

  // ---- server side ----

  /** Sends response headers; with endStream the stream's sending half ends too. */
  respond(stream: H2Stream, headers: Headers, endStream: boolean): void {
    if (stream.isClosed && stream.error) return;
    this.write(encodeHeaders(stream.id, this.#encoder.encode(headers), endStream, this.peerMaxFrameSize));
    if (endStream) stream.markLocalEnded();
  }

  // ---- StreamOwner ----

  write(buf: Uint8Array, flushed?: () => void): void {
    if (this.#closed) return;
    if (!this.socket.write(buf, flushed)) this.#needDrain = true;
  }

  writeTwo(header: Uint8Array, payload: Uint8Array, flushed?: () => void): void {
    if (this.#closed) return;
    const s = this.socket;
    s.cork?.();
    s.write(header);
    if (!s.write(payload, flushed)) this.#needDrain = true;
    s.uncork?.();
  }

  drained(): Promise<void> | undefined {
    if (!this.#needDrain || this.#closed) return undefined;
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  waitConnWindow(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((r) => this.#connWindowWaiters.push(r));
  }

  credit(stream: H2Stream, n: number): void {
    if (this.#closed) return;
    this.#connUnacked += n;
    let frames: Uint8Array | undefined;
    if (!stream.remoteEnded && this.streams.has(stream.id)) {
      stream.unacked += n;
      if (stream.unacked >= this.opts.streamWindow >> 1) {
        frames = encodeWindowUpdate(stream.id, stream.unacked);
        stream.unacked = 0;
      }
    }
    if (this.#connUnacked >= this.opts.connectionWindow >> 1) {
      const c = encodeWindowUpdate(0, this.#connUnacked);
      this.#connUnacked = 0;
      frames = frames ? concat([frames, c]) : c;
    }
    if (frames) this.write(frames);
  }

  sendRst(id: number, code: number): void {
    this.write(encodeRstStream(id, code));
  }

  streamClosed(stream: H2Stream): void {
    if (this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id);
      this.onStreamClosed?.(stream);
      if ((this.#goawaySent || this.#goawayReceived) && this.streams.size === 0) this.close();
    }
  }

  // ---- lifecycle ----

  /** Graceful: GOAWAY, no new streams; the socket closes when the last stream is done. */
  goaway(code: number = ErrorCode.NO_ERROR): void {
    if (this.#goawaySent || this.#closed) return;
    this.#goawaySent = true;
    this.write(encodeGoaway(this.#lastPeerStreamId, code));
    this.onUnavailable?.();
    if (this.streams.size === 0) this.close();
  }

  /** Closes the socket now; open streams fail. */
  close(): void {
    if (this.#closed) return;
    this.socket.end(); // flushes what was written, then FIN
    this.#terminate(new H2Error("session closed", ErrorCode.NO_ERROR, 0), false);
  }

  ping(): void {
    this.write(encodePing(new Uint8Array(8), false));
  }

  // ---- frame handling ----

  #onData(id: number, data: Uint8Array, endStream: boolean, flowBytes: number): void {
    const stream = this.streams.get(id);
    const padding = flowBytes - data.length;
    if (!stream) {
      if (id === 0 || id > this.#maxSeenStreamId()) {
        throw new H2Error(`DATA on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR, 0);
      }
      this.#connUnacked += flowBytes; // closed stream: give the window back
      this.#maybeConnUpdate();
      return;
    }
    if (padding > 0) {
      this.#connUnacked += padding;
      this.#maybeConnUpdate();
    }
    stream.onData(data, endStream, this.#lease);
  }

  #maxSeenStreamId(): number {
    return this.role === "client" ? this.#nextStreamId - 2 : this.#lastPeerStreamId;
  }

  #maybeConnUpdate(): void {
    if (this.#connUnacked >= this.opts.connectionWindow >> 1) {
      this.write(encodeWindowUpdate(0, this.#connUnacked));
      this.#connUnacked = 0;
    }
  }

  #onFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.#headerBlock && type !== FrameType.CONTINUATION) {
      throw new H2Error("expected CONTINUATION", ErrorCode.PROTOCOL_ERROR, 0);
    }
    switch (type) {
      case FrameType.HEADERS:
        return this.#onHeaders(flags, id, payload);
      case FrameType.CONTINUATION: {
        const hb = this.#headerBlock;
        if (!hb || hb.streamId !== id) {
          throw new H2Error("unexpected CONTINUATION", ErrorCode.PROTOCOL_ERROR, 0);
        }
        hb.parts.push(payload.slice());
        if (flags & Flag.END_HEADERS) {
          this.#headerBlock = undefined;
          this.#onHeaderBlock(id, hb.flags, concat(hb.parts));
        }
        return;
      }
      case FrameType.SETTINGS:
        return this.#onSettings(flags, id, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(id, payload);
      case FrameType.PING:
        if (id !== 0 || payload.length !== 8) throw new H2Error("bad PING", ErrorCode.PROTOCOL_ERROR, 0);
        if (!(flags & Flag.ACK)) this.write(encodePing(payload, true));
        return;
      case FrameType.RST_STREAM: {
        if (id === 0 || payload.length !== 4) {
          throw new H2Error("bad RST_STREAM", ErrorCode.PROTOCOL_ERROR, 0);
        }
        this.streams.get(id)?.onPeerReset(readU32(payload, 0));
        return;
      }
      case FrameType.GOAWAY:
        return this.#onGoaway(payload);
      case FrameType.PUSH_PROMISE:
        throw new H2Error("PUSH_PROMISE not allowed", ErrorCode.PROTOCOL_ERROR, 0);
      default:
        return; // PRIORITY and unknown frame types are ignored
    }
  }

  #onHeaders(flags: number, id: number, payload: Uint8Array): void {
    if (id === 0) throw new H2Error("HEADERS on stream 0", ErrorCode.PROTOCOL_ERROR, 0);
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      const pad = payload[0];
      start = 1;
      end -= pad;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (start > end) throw new H2Error("bad HEADERS padding", ErrorCode.PROTOCOL_ERROR, 0);
    const fragment = payload.subarray(start, end);
    if (flags & Flag.END_HEADERS) this.#onHeaderBlock(id, flags, fragment);
    else this.#headerBlock = { streamId: id, flags, parts: [fragment.slice()] };
  }

  #onHeaderBlock(id: number, flags: number, block: Uint8Array): void {
    const headers = this.#decoder.decode(block);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const existing = this.streams.get(id);
    if (existing) {
      if (existing.responseResolve) {
        const resolve = existing.responseResolve;
        existing.responseResolve = undefined;
        resolve(headers);
      }
      if (endStream) existing.onRemoteEnd();
      return;
    }
    if (this.role === "client") {
      if (id <= this.#maxSeenStreamId() || id % 2 === 1) return; // late headers of a closed stream
      throw new H2Error(`HEADERS on stream ${id} not opened by us`, ErrorCode.PROTOCOL_ERROR, 0);
    }
    if (id % 2 === 0 || id <= this.#lastPeerStreamId) {
      if (id <= this.#lastPeerStreamId) return; // trailers of a stream we already closed
      throw new H2Error(`bad client stream id ${id}`, ErrorCode.PROTOCOL_ERROR, 0);
    }
    this.#lastPeerStreamId = id;
    if (this.#goawaySent || this.streams.size >= this.opts.maxConcurrentStreams) {
      this.sendRst(id, ErrorCode.REFUSED_STREAM);
      return;
    }
    const stream = new H2Stream(id, this, this.peerInitialWindow);
    stream.requestHeaders = headers;
    this.streams.set(id, stream);
    if (endStream) stream.onRemoteEnd();
    this.onStream?.(stream);
  }

  #onSettings(flags: number, id: number, payload: Uint8Array): void {
    if (id !== 0) throw new H2Error("SETTINGS on a stream", ErrorCode.PROTOCOL_ERROR, 0);
    if (flags & Flag.ACK) return;
    for (const [key, value] of decodeSettings(payload)) {
      if (key === Setting.INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          s.wakeWriter();
        }
      } else if (key === Setting.MAX_FRAME_SIZE) this.peerMaxFrameSize = value;
      else if (key === Setting.MAX_CONCURRENT_STREAMS) this.peerMaxConcurrentStreams = value;
    }
    this.write(encodeSettingsAck());
  }

  #onWindowUpdate(id: number, payload: Uint8Array): void {
    if (payload.length !== 4) throw new H2Error("bad WINDOW_UPDATE", ErrorCode.FRAME_SIZE_ERROR, 0);
    const inc = readU32(payload, 0) & 0x7fffffff;
    if (inc === 0) {
      if (id === 0) throw new H2Error("zero WINDOW_UPDATE", ErrorCode.PROTOCOL_ERROR, 0);
      this.streams.get(id)?.reset(ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (id !== 0) {
      this.streams.get(id)?.onWindowUpdate(inc);
      return;
    }
    this.connSendWindow += inc;
    const waiters = this.#connWindowWaiters;
    this.#connWindowWaiters = [];
    for (const w of waiters) w();
  }

  #onGoaway(payload: Uint8Array): void {
    if (payload.length < 8) throw new H2Error("bad GOAWAY", ErrorCode.FRAME_SIZE_ERROR, 0);
    const last = readU32(payload, 0) & 0x7fffffff;
    const code = readU32(payload, 4);
    this.#goawayReceived = true;
    this.onUnavailable?.();
    for (const s of [...this.streams.values()]) {
      if (s.id > last && this.role === "client") {
        s.fail(new H2Error(`stream refused by GOAWAY (code ${code})`, ErrorCode.REFUSED_STREAM, s.id));
      }
    }
    if (this.streams.size === 0) this.close();
  }

  #onDrain(): void {
    this.#needDrain = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  #connectionError(err: H2Error): void {
    if (this.#closed) return;
    this.write(encodeGoaway(this.#lastPeerStreamId, err.code, err.message));
    this.socket.end();
    this.#terminate(err, false);
  }

  #terminate(err: Error, destroy = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.error = err;
    for (const s of [...this.streams.values()]) s.fail(err);
    this.streams.clear();
    this.#onDrain();
    const waiters = this.#connWindowWaiters;
    this.#connWindowWaiters = [];
    for (const w of waiters) w();
    this.onUnavailable?.();
    if (destroy) this.socket.destroy();
    this.#closedResolve();
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
