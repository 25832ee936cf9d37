/**
 * A minimal HTTP/2 connection for HBONE (RFC 9113), client or server, over any byte socket
 * (node:tls in practice): CONNECT streams only, full flow control, HPACK, SETTINGS, PING, GOAWAY,
 * hardened against a hostile peer (limits in h2_options.ts, kinds in h2_error.ts).
 *
 * Memory one connection can make us hold, with the defaults (each bound enforced below or in the
 * named file): a split frame ≤ maxFrameSize (1 MiB) + an open header block ≤ maxHeaderBlockSize
 * (64 KiB, header_block.ts) + the HPACK table (4 KiB); ≤ maxConcurrentStreams (200) streams, each with
 * a header list ≤ 64 KiB; received DATA ≤ the connection window we advertise (16 MiB) — pieces of at
 * least a quarter of their receive buffer keep ≤ 4× their size alive, smaller ones ≤ maxPinnedBytes
 * (8 MiB) of buffers in all (then they are copied), and pieces under 256 bytes are limited by the
 * DATA-frame budget; replies queued for a non-reading peer ≤ replyLimit (1 MiB) plus one PING ACK and
 * ≤ maxQueuedAcks SETTINGS ACKs (output_gate.ts); chunks read while paused ≤ replyLimit. Worst case
 * about 100 MiB, most of it the advertised window, which a peer may fill by the rules; a flood of
 * anything else is cut off by a budget with GOAWAY ENHANCE_YOUR_CALM.
 */
import {
  CONNECTION_PREFACE,
  decodeSettings,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  ErrorCode,
  Flag,
  FrameType,
  MAX_WINDOW_SIZE,
  readUint32,
  Setting,
} from "./frame.ts";
import { FrameParser } from "./frame_parser.ts";
import { HpackDecoder, HpackEncoder } from "./hpack.ts";
import { H2Error, H2ResponseTimeoutError, H2Violation, type H2ViolationKind } from "./h2_error.ts";
import { H2Stream, type Headers, type StreamOwner } from "./stream.ts";
import type { BufferLease } from "./buffer_lease.ts";
import type { H2Socket } from "./h2_socket.ts";
import { type H2Limits, type H2Options, resolveH2Limits } from "./h2_options.ts";
import { FloodBudget } from "./flood_budget.ts";
import { type HeaderBlock, HeaderBlockAssembler } from "./header_block.ts";
import { checkRequest, checkResponse, checkTrailers } from "./message_checks.ts";
import { OutputGate } from "./output_gate.ts";
import { Keepalive } from "./keepalive.ts";
import { StreamIdRing } from "./stream_id_ring.ts";

export type { H2Socket } from "./h2_socket.ts";
export { DEFAULT_H2_OPTIONS, type H2Options } from "./h2_options.ts";

const DEFAULT_WINDOW = 65535;
/** A DATA piece under this many bytes costs (this − size) of the DATA-frame budget until released (h2). */
const SMALL_DATA = 256;
/** A DATA piece viewing less than 1/PIN_RATIO of its receive buffer pins the whole buffer (budgeted). */
const PIN_RATIO = 4;
/** WINDOW_UPDATE increments under this count as zero-progress frames. */
const SMALL_INCREMENT = 1024;
/** After a connection error the socket gets this long to flush GOAWAY before it is destroyed. */
const LINGER_MS = 1000;

export interface RequestOptions {
  /** Reset the stream (CANCEL) and reject `response` with H2ResponseTimeoutError if no response comes in time. */
  readonly responseTimeoutMs?: number;
}

export class H2Session implements StreamOwner {
  readonly streams = new Map<number, H2Stream>();
  peerMaxFrameSize = 16384;
  peerInitialWindow = DEFAULT_WINDOW;
  peerMaxConcurrentStreams = Infinity;
  connSendWindow = DEFAULT_WINDOW;
  readonly #limits: H2Limits;
  readonly #gate: OutputGate;
  /** Flow-controlled bytes the peer may still send on the connection. */
  #connRecvWindow: number;
  /** Released bytes not yet returned to the peer as a connection WINDOW_UPDATE. */
  #connUnacked = 0;
  /** A new stream's receive window as the peer may assume it (our SETTINGS, once acknowledged). */
  #recvInitialWindow: number;
  #unackedSettings = 1;
  #dataBudget: number;
  /** Bytes of receive buffers that small unreleased pieces may keep alive before they are copied. */
  #pinBudget: number;
  #glitches: FloodBudget;
  #pendingResets = 0;
  #localErrorResets = 0;
  /** Streams we reset (frames on them may still be in flight) and streams closed otherwise. */
  #resetIds = new StreamIdRing();
  #closedIds = new StreamIdRing();
  /** The lease of the chunk being parsed, when the socket lends its buffers. */
  #lease: BufferLease | undefined;
  /** Chunks that arrived while reading was paused, with their (retained) leases. */
  #backlog: Array<[Uint8Array, BufferLease | undefined]> = [];
  #backlogBytes = 0;
  /** Server streams opened by the chunk being parsed: handed to onStream once it is parsed. */
  #newStreams: H2Stream[] = [];
  /** Bytes of the DATA frame being received, so far (an empty frame is a zero-progress frame). */
  #frameData = 0;
  #nextStreamId: number;
  #lastPeerStreamId = 0;
  #parser: FrameParser;
  #decoder: HpackDecoder;
  #encoder = new HpackEncoder();
  #blocks: HeaderBlockAssembler;
  #awaitingSettings = true;
  #connWindowWaiters: Array<() => void> = [];
  #keepalive: Keepalive;
  #prefaceTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #userPings = 0;
  #violated = false;
  #goawaySent = false;
  #goawayReceived = false;
  #closed = false;
  #closedResolve!: () => void;
  readonly closed = new Promise<void>((r) => (this.#closedResolve = r));
  /** Server side: a new stream with its request headers (after the chunk that opened it is parsed). */
  onStream?: (stream: H2Stream) => void;
  /** Called when the session stops taking new streams (GOAWAY either way, keepalive failure) or closes. */
  onUnavailable?: () => void;
  /** Called whenever a stream closes (pools track their capacity with it). */
  onStreamClosed?: (stream: H2Stream) => void;
  /** Called at most once: the peer broke a rule or a limit and the connection is being dropped. */
  onViolation?: (kind: H2ViolationKind, detail: string) => void;
  error?: Error;

  constructor(readonly socket: H2Socket, readonly role: "client" | "server", readonly opts: H2Options) {
    const limits = this.#limits = resolveH2Limits(opts);
    this.#nextStreamId = role === "client" ? 1 : 2;
    this.#decoder = new HpackDecoder(4096, opts.maxHeaderListSize);
    this.#blocks = new HeaderBlockAssembler(limits.maxHeaderBlockSize, limits.maxContinuationFrames);
    this.#connRecvWindow = Math.max(DEFAULT_WINDOW, opts.connectionWindow);
    this.#recvInitialWindow = Math.max(DEFAULT_WINDOW, opts.streamWindow);
    this.#dataBudget = limits.dataFrameBudget;
    this.#pinBudget = limits.maxPinnedBytes;
    this.#glitches = new FloodBudget(limits.glitchBurst, limits.glitchRatePerSecond);
    this.#gate = new OutputGate(socket, limits, (v) => this.#connectionError(v));
    this.#parser = new FrameParser(
      {
        onFrame: (t, f, id, p) => this.#onFrame(t, f, id, p),
        onData: (id, d, e, fb, last) => this.#onData(id, d, e, fb, last),
      },
      opts.maxFrameSize,
    );
    if (role === "server") this.#parser.expectPreface();
    socket.on("data", (chunk, lease) => this.#onChunk(chunk, lease));
    // DATA views leave this session only through H2Stream, which retains and releases their lease.
    socket.reuseReceiveBuffers?.();
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (e) => this.#terminate(e));
    socket.on("close", () => {
      if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
      this.#lingerTimer = undefined;
      this.#terminate(new H2Error("connection closed", ErrorCode.NO_ERROR, 0));
    });
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
    if (limits.prefaceTimeoutMs > 0) {
      this.#prefaceTimer = setTimeout(() => {
        this.#prefaceTimer = undefined;
        const what = role === "server" ? "connection preface" : "server SETTINGS";
        this.#connectionError(
          new H2Violation("preface_timeout", `no ${what} within ${limits.prefaceTimeoutMs} ms`),
        );
      }, limits.prefaceTimeoutMs);
    }
    this.#keepalive = new Keepalive(
      limits.keepaliveIntervalMs,
      limits.keepaliveTimeoutMs,
      (opaque) => this.write(encodePing(opaque, false)),
      () =>
        this.#connectionError(
          new H2Violation(
            "keepalive_timeout",
            `PING unanswered for ${limits.keepaliveTimeoutMs} ms`,
            ErrorCode.NO_ERROR,
          ),
        ),
    );
    this.#keepalive.start();
  }

  get isClosed(): boolean {
    return this.#closed;
  }
  /** True while new streams may be opened on this session (false once it is dead or going away). */
  get available(): boolean {
    return !this.#closed && !this.#goawayReceived && !this.#goawaySent;
  }
  get activeStreams(): number {
    return this.streams.size;
  }

  // ---- client side ----

  /** Opens a stream with the given request headers (pseudo-headers first). */
  request(headers: Headers, opts: RequestOptions = {}): H2Stream {
    if (!this.available) {
      throw new H2Error("session not available for new streams", ErrorCode.REFUSED_STREAM, 0);
    }
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new H2Stream(id, this, this.peerInitialWindow, this.#recvInitialWindow);
    stream.response = new Promise<Headers>((resolve, reject) => {
      stream.responseResolve = resolve;
      stream.responseReject = reject;
    });
    stream.response.catch(() => {}); // a caller that never awaits it must not see an unhandled rejection
    this.streams.set(id, stream);
    this.write(encodeHeaders(id, this.#encoder.encode(headers), false, this.peerMaxFrameSize));
    const ms = opts.responseTimeoutMs;
    if (ms !== undefined && ms > 0) {
      stream.responseTimer = setTimeout(() => {
        stream.responseTimer = undefined;
        if (stream.responseResolve) stream.reset(ErrorCode.CANCEL, new H2ResponseTimeoutError(ms, id));
      }, ms);
    }
    return stream;
  }

  // ---- server side ----

  /** Sends response headers; with endStream the stream's sending half ends too. */
  respond(stream: H2Stream, headers: Headers, endStream: boolean): void {
    this.answer(stream);
    if (stream.isClosed && stream.error) return;
    this.#gate.reply(
      encodeHeaders(stream.id, this.#encoder.encode(headers), endStream, this.peerMaxFrameSize),
    );
    if (endStream) stream.markLocalEnded();
  }

  // ---- StreamOwner ----

  write(buf: Uint8Array, flushed?: () => void): void {
    if (!this.#closed) this.#gate.write(buf, flushed);
  }

  writeTwo(header: Uint8Array, payload: Uint8Array, flushed?: () => void): void {
    if (!this.#closed) this.#gate.writeTwo(header, payload, flushed);
  }

  drained(): Promise<void> | undefined {
    return this.#closed ? undefined : this.#gate.drained();
  }

  waitConnWindow(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((r) => this.#connWindowWaiters.push(r));
  }

  credit(stream: H2Stream, n: number): void {
    if (this.#closed) return;
    let frames: Uint8Array | undefined;
    if (!stream.remoteEnded && this.streams.has(stream.id)) {
      stream.unacked += n;
      if (stream.unacked >= this.opts.streamWindow >> 1) {
        frames = encodeWindowUpdate(stream.id, stream.unacked);
        stream.recvWindow += stream.unacked;
        stream.unacked = 0;
      }
    }
    this.#connUnacked += n;
    const c = this.#connUpdate();
    if (c) frames = frames ? concat([frames, c]) : c;
    if (frames) this.write(frames);
  }

  refund(charge: number, pinned = 0): void {
    this.#dataBudget = Math.min(this.#limits.dataFrameBudget, this.#dataBudget + charge);
    this.#pinBudget += pinned;
  }

  answer(stream: H2Stream): void {
    stream.answered = true;
    if (stream.resetUnanswered) {
      stream.resetUnanswered = false;
      this.#pendingResets--;
    }
  }

  sendRst(id: number, code: number): void {
    this.#resetIds.add(id);
    this.#gate.reply(encodeRstStream(id, code));
  }

  streamClosed(stream: H2Stream): void {
    if (this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id);
      if (!this.#resetIds.has(stream.id)) this.#closedIds.add(stream.id);
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

  /** Sends a PING (its ACK is expected, not waited for). */
  ping(): void {
    this.#userPings++;
    this.write(encodePing(new Uint8Array(8), false));
  }

  // ---- reading ----

  #onChunk(chunk: Uint8Array, lease: BufferLease | undefined): void {
    if (this.#closed) return;
    if (this.#gate.paused || this.#backlog.length > 0) {
      // The socket was asked to pause; whatever it still delivers waits here, bounded.
      lease?.retain();
      this.#backlog.push([chunk, lease]);
      this.#backlogBytes += chunk.length;
      if (this.#backlogBytes > this.#limits.replyLimit) {
        this.#connectionError(new H2Violation("write_flood", "peer keeps sending while it does not read"));
      }
      return;
    }
    this.#parse(chunk, lease);
  }

  #parse(chunk: Uint8Array, lease: BufferLease | undefined): void {
    this.#lease = lease;
    try {
      this.#parser.push(chunk);
    } catch (e) {
      // Anything but an H2Error is a bug of ours, not the peer's fault: INTERNAL_ERROR, not a violation.
      this.#connectionError(
        e instanceof H2Error
          ? e
          : new H2Error(`internal error: ${e}`, ErrorCode.INTERNAL_ERROR, 0, { cause: e }),
      );
    } finally {
      this.#lease = undefined;
    }
    this.#dispatch();
  }

  /** Hands the streams the last chunk opened to onStream, skipping any it also reset or refused. */
  #dispatch(): void {
    const fresh = this.#newStreams;
    if (fresh.length === 0) return;
    this.#newStreams = [];
    for (const s of fresh) {
      if (s.isClosed || this.#closed) continue;
      s.dispatched = true;
      try {
        this.onStream?.(s);
      } catch (e) {
        s.reset(ErrorCode.INTERNAL_ERROR, e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  #onDrain(): void {
    if (!this.#gate.onDrain()) return;
    while (this.#backlog.length > 0 && !this.#gate.paused && !this.#closed) {
      const [chunk, lease] = this.#backlog.shift()!;
      this.#backlogBytes -= chunk.length;
      this.#parse(chunk, lease);
      lease?.release();
    }
  }

  // ---- frame handling ----

  #onData(id: number, data: Uint8Array, endStream: boolean, flow: number, last: boolean): void {
    if (this.#closed) return;
    if (this.#awaitingSettings || this.#blocks.open) {
      throw new H2Error("DATA before SETTINGS or inside a header block", ErrorCode.PROTOCOL_ERROR);
    }
    if (flow > this.#connRecvWindow) {
      throw new H2Violation(
        "flow_control",
        "DATA beyond the connection window",
        ErrorCode.FLOW_CONTROL_ERROR,
      );
    }
    this.#connRecvWindow -= flow;
    this.#frameData += data.length;
    if (last) {
      if (this.#frameData === 0 && !endStream) this.#glitch("empty DATA frames");
      this.#frameData = 0;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return this.#dataOnClosed(id, flow);
    if (stream.remoteEnded) {
      return this.#discard(stream, flow, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    }
    if (flow > stream.recvWindow) {
      return this.#discard(stream, flow, ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the stream window");
    }
    stream.recvWindow -= flow;
    if (stream.contentLength !== undefined) {
      stream.dataReceived += data.length;
      if (
        stream.dataReceived > stream.contentLength ||
        (endStream && stream.dataReceived !== stream.contentLength)
      ) {
        return this.#discard(stream, flow, ErrorCode.PROTOCOL_ERROR, "DATA does not match content-length");
      }
    }
    const padding = flow - data.length;
    if (padding > 0) this.credit(stream, padding);
    let charge = 0;
    const n = data.length;
    if (n >= SMALL_DATA) this.refund(n - SMALL_DATA);
    else if (n > 0) {
      charge = SMALL_DATA - n;
      if (this.#dataBudget < charge) throw new H2Violation("small_data_flood", "too many small DATA frames");
      this.#dataBudget -= charge;
    }
    // A piece much smaller than the buffer it views keeps the whole buffer alive until released: that
    // is budgeted per connection, and past the budget such pieces are copied instead.
    let lease = this.#lease;
    let pinned = 0;
    if (n > 0 && n * PIN_RATIO < data.buffer.byteLength) {
      pinned = data.buffer.byteLength;
      if (this.#pinBudget >= pinned) this.#pinBudget -= pinned;
      else {
        data = data.slice();
        lease = undefined;
        pinned = 0;
      }
    }
    stream.onData(data, endStream, lease, charge, pinned);
  }

  /** DATA on a stream not open: idle is a connection error; after our reset it raced; else STREAM_CLOSED. */
  #dataOnClosed(id: number, flow: number): void {
    if (id === 0 || this.#isIdle(id)) {
      throw new H2Error(`DATA on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
    }
    this.#connUnacked += flow; // nobody reads it: the window goes straight back
    const c = this.#connUpdate();
    if (c) this.write(c);
    if (!this.#resetIds.has(id)) this.#streamErrorId(id, ErrorCode.STREAM_CLOSED);
  }

  /** A stream error on DATA: the bytes are dropped (their connection window returned) and the stream reset. */
  #discard(stream: H2Stream, flow: number, code: number, why: string): void {
    this.#connUnacked += flow;
    const c = this.#connUpdate();
    if (c) this.write(c);
    this.#streamError(stream, code, why);
  }

  #connUpdate(): Uint8Array | undefined {
    if (this.#connUnacked < this.opts.connectionWindow >> 1) return undefined;
    const f = encodeWindowUpdate(0, this.#connUnacked);
    this.#connRecvWindow += this.#connUnacked;
    this.#connUnacked = 0;
    return f;
  }

  #isIdle(id: number): boolean {
    const peerInitiated = (id % 2 === 1) === (this.role === "server");
    return peerInitiated ? id > this.#lastPeerStreamId : id >= this.#nextStreamId;
  }

  #onFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.#closed) return;
    if (this.#awaitingSettings && (type !== FrameType.SETTINGS || flags & Flag.ACK)) {
      throw new H2Error("the first frame must be SETTINGS", ErrorCode.PROTOCOL_ERROR);
    }
    if (this.#blocks.open && type !== FrameType.CONTINUATION) {
      throw new H2Error("expected CONTINUATION", ErrorCode.PROTOCOL_ERROR);
    }
    switch (type) {
      case FrameType.HEADERS: {
        if (id === 0) throw new H2Error("HEADERS on stream 0", ErrorCode.PROTOCOL_ERROR);
        const b = this.#blocks.headers(id, flags, payload);
        return b && this.#onHeaderBlock(b);
      }
      case FrameType.CONTINUATION: {
        const b = this.#blocks.continuation(id, flags, payload);
        return b && this.#onHeaderBlock(b);
      }
      case FrameType.SETTINGS:
        return this.#onSettings(flags, id, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(id, payload);
      case FrameType.PING:
        return this.#onPing(flags, id, payload);
      case FrameType.RST_STREAM:
        return this.#onRst(id, payload);
      case FrameType.GOAWAY:
        return this.#onGoaway(id, payload);
      case FrameType.PRIORITY:
        return this.#onPriority(id, payload);
      case FrameType.PUSH_PROMISE:
        throw new H2Error("PUSH_PROMISE not allowed", ErrorCode.PROTOCOL_ERROR, 0);
      default:
        return this.#glitch("frames of unknown types");
    }
  }

  #onHeaderBlock(b: HeaderBlock): void {
    const headers = this.#decoder.decode(b.block);
    if (this.#decoder.sizeUpdates > 0) this.#glitch("HPACK table size updates", this.#decoder.sizeUpdates);
    const id = b.streamId;
    const endStream = (b.flags & Flag.END_STREAM) !== 0;
    const stream = this.streams.get(id);
    if (stream) return this.#onHeadersOnOpen(stream, headers, endStream);
    if (this.role === "client") {
      if (this.#isIdle(id)) {
        throw new H2Error(`HEADERS on stream ${id} not opened by us`, ErrorCode.PROTOCOL_ERROR);
      }
      return; // the response to a stream we already reset
    }
    if (id % 2 === 0) throw new H2Error(`bad client stream id ${id}`, ErrorCode.PROTOCOL_ERROR);
    if (id <= this.#lastPeerStreamId) {
      if (this.#resetIds.has(id)) return this.#glitch("HEADERS on reset streams");
      if (this.#closedIds.has(id)) {
        throw new H2Error(`HEADERS on closed stream ${id}`, ErrorCode.STREAM_CLOSED);
      }
      throw new H2Error(`stream id ${id} not above ${this.#lastPeerStreamId}`, ErrorCode.PROTOCOL_ERROR);
    }
    this.#lastPeerStreamId = id;
    if (b.dependsOn === id) return this.#streamErrorId(id, ErrorCode.PROTOCOL_ERROR);
    const check = checkRequest(headers);
    if (!check.ok || (endStream && (check.contentLength ?? 0) > 0)) {
      return this.#streamErrorId(id, ErrorCode.PROTOCOL_ERROR);
    }
    if (this.#goawaySent || this.streams.size >= this.opts.maxConcurrentStreams) {
      this.#glitch("refused streams");
      return this.sendRst(id, ErrorCode.REFUSED_STREAM);
    }
    const s = new H2Stream(id, this, this.peerInitialWindow, this.#recvInitialWindow);
    s.requestHeaders = headers;
    s.contentLength = check.contentLength;
    this.streams.set(id, s);
    if (endStream) s.onRemoteEnd();
    this.#newStreams.push(s);
  }

  /** HEADERS on an open stream: a client's response (after 1xx ones), or trailers. */
  #onHeadersOnOpen(stream: H2Stream, headers: Headers, endStream: boolean): void {
    const resolve = stream.responseResolve;
    if (resolve) {
      const c = checkResponse(headers);
      if (!c.ok) {
        return this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, `malformed response: ${c.reason}`);
      }
      if (c.status! < 200) {
        if (endStream) this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, "1xx response with END_STREAM");
        return;
      }
      stream.responseResolve = undefined;
      if (stream.responseTimer !== undefined) clearTimeout(stream.responseTimer);
      stream.responseTimer = undefined;
      stream.contentLength = c.contentLength;
      resolve(headers);
      if (endStream) stream.onRemoteEnd();
      return;
    }
    if (stream.remoteEnded) {
      return this.#streamError(stream, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
    }
    if (!endStream) {
      return this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, "second HEADERS without END_STREAM");
    }
    const c = checkTrailers(headers);
    if (!c.ok) return this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, `malformed trailers: ${c.reason}`);
    if (stream.contentLength !== undefined && stream.dataReceived !== stream.contentLength) {
      return this.#streamError(stream, ErrorCode.PROTOCOL_ERROR, "DATA does not match content-length");
    }
    stream.onRemoteEnd();
  }

  #onSettings(flags: number, id: number, payload: Uint8Array): void {
    if (id !== 0) throw new H2Error("SETTINGS on a stream", ErrorCode.PROTOCOL_ERROR, 0);
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw new H2Error("SETTINGS ACK with a payload", ErrorCode.FRAME_SIZE_ERROR);
      return this.#onSettingsAck();
    }
    const settings = decodeSettings(payload);
    if (settings.length > this.#limits.maxSettingsEntries) {
      throw new H2Violation("glitch_flood", `SETTINGS with ${settings.length} entries`);
    }
    if (this.#awaitingSettings) {
      this.#awaitingSettings = false;
      if (this.#prefaceTimer !== undefined) clearTimeout(this.#prefaceTimer);
      this.#prefaceTimer = undefined;
    } else this.#glitch("SETTINGS frames");
    for (const [key, value] of settings) {
      if (key === Setting.INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        for (const s of this.streams.values()) {
          if (s.sendWindow + delta > MAX_WINDOW_SIZE) {
            throw new H2Violation(
              "flow_control",
              "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
              ErrorCode.FLOW_CONTROL_ERROR,
            );
          }
        }
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          s.wakeWriter();
        }
      } else if (key === Setting.MAX_FRAME_SIZE) this.peerMaxFrameSize = value;
      else if (key === Setting.MAX_CONCURRENT_STREAMS) this.peerMaxConcurrentStreams = value;
      else if (key === Setting.ENABLE_PUSH && value === 1 && this.role === "client") {
        throw new H2Error("a server must not enable push", ErrorCode.PROTOCOL_ERROR);
      }
    }
    this.#gate.settingsAck();
  }

  #onSettingsAck(): void {
    if (this.#unackedSettings === 0) return this.#glitch("unsolicited SETTINGS ACKs");
    this.#unackedSettings--;
    // The peer now uses our INITIAL_WINDOW_SIZE; below the default it shrinks the open streams' windows.
    const delta = this.opts.streamWindow - this.#recvInitialWindow;
    this.#recvInitialWindow = this.opts.streamWindow;
    if (delta !== 0) { for (const s of this.streams.values()) s.recvWindow += delta; }
  }

  #onWindowUpdate(id: number, payload: Uint8Array): void {
    if (payload.length !== 4) throw new H2Error("bad WINDOW_UPDATE", ErrorCode.FRAME_SIZE_ERROR, 0);
    const inc = readUint32(payload, 0) & MAX_WINDOW_SIZE;
    if (id === 0) {
      if (inc === 0) throw new H2Error("zero WINDOW_UPDATE", ErrorCode.PROTOCOL_ERROR, 0);
      if (this.connSendWindow + inc > MAX_WINDOW_SIZE) {
        throw new H2Violation("flow_control", "connection window past 2^31-1", ErrorCode.FLOW_CONTROL_ERROR);
      }
      if (inc < SMALL_INCREMENT) this.#glitch("tiny WINDOW_UPDATEs");
      this.connSendWindow += inc;
      const waiters = this.#connWindowWaiters;
      this.#connWindowWaiters = [];
      for (const w of waiters) w();
      return;
    }
    if (this.#isIdle(id)) throw new H2Error(`WINDOW_UPDATE on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
    const s = this.streams.get(id);
    if (inc === 0) {
      if (s) this.#streamError(s, ErrorCode.PROTOCOL_ERROR, "zero WINDOW_UPDATE");
      else this.#streamErrorId(id, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (s === undefined) return; // closed: the update raced its end
    if (s.sendWindow + inc > MAX_WINDOW_SIZE) {
      return this.#streamError(s, ErrorCode.FLOW_CONTROL_ERROR, "stream window past 2^31-1");
    }
    if (inc < SMALL_INCREMENT) this.#glitch("tiny WINDOW_UPDATEs");
    s.onWindowUpdate(inc);
  }

  #onPing(flags: number, id: number, payload: Uint8Array): void {
    if (id !== 0) throw new H2Error("PING on a stream", ErrorCode.PROTOCOL_ERROR, 0);
    if (payload.length !== 8) throw new H2Error("PING of the wrong size", ErrorCode.FRAME_SIZE_ERROR, 0);
    if (!(flags & Flag.ACK)) {
      this.#glitch("PING frames");
      return this.#gate.pingAck(payload);
    }
    if (this.#keepalive.onAck(payload)) return;
    if (this.#userPings > 0 && payload.every((b) => b === 0)) this.#userPings--;
    else this.#glitch("unsolicited PING ACKs");
  }

  #onRst(id: number, payload: Uint8Array): void {
    if (id === 0) throw new H2Error("RST_STREAM on stream 0", ErrorCode.PROTOCOL_ERROR, 0);
    if (payload.length !== 4) {
      throw new H2Error("RST_STREAM of the wrong size", ErrorCode.FRAME_SIZE_ERROR, 0);
    }
    if (this.#isIdle(id)) throw new H2Error(`RST_STREAM on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
    const s = this.streams.get(id);
    if (s === undefined) return;
    const code = readUint32(payload, 0);
    if (this.role === "server" && !s.answered) {
      if (!s.dispatched) this.#glitch("streams reset before they were handed over");
      else {
        s.resetUnanswered = true;
        if (++this.#pendingResets > this.#limits.maxPendingResetStreams) {
          throw new H2Violation(
            "rapid_reset",
            `more than ${this.#limits.maxPendingResetStreams} streams reset before an answer`,
          );
        }
      }
    }
    s.fail(new H2Error(`stream reset by peer (code ${code})`, code, id));
  }

  #onPriority(id: number, payload: Uint8Array): void {
    if (id === 0) throw new H2Error("PRIORITY on stream 0", ErrorCode.PROTOCOL_ERROR, 0);
    const s = this.streams.get(id);
    if (payload.length !== 5) {
      if (s) return this.#streamError(s, ErrorCode.FRAME_SIZE_ERROR, "PRIORITY of the wrong size");
      throw new H2Error("PRIORITY of the wrong size", ErrorCode.FRAME_SIZE_ERROR);
    }
    if ((readUint32(payload, 0) & MAX_WINDOW_SIZE) === id) {
      if (s) return this.#streamError(s, ErrorCode.PROTOCOL_ERROR, "stream depends on itself");
      throw new H2Error(`stream ${id} depends on itself`, ErrorCode.PROTOCOL_ERROR);
    }
    this.#glitch("PRIORITY frames");
  }

  #onGoaway(id: number, payload: Uint8Array): void {
    if (id !== 0) throw new H2Error("GOAWAY on a stream", ErrorCode.PROTOCOL_ERROR, 0);
    if (payload.length < 8) throw new H2Error("bad GOAWAY", ErrorCode.FRAME_SIZE_ERROR, 0);
    if (this.#goawayReceived) this.#glitch("GOAWAY frames");
    const last = readUint32(payload, 0) & MAX_WINDOW_SIZE;
    const code = readUint32(payload, 4);
    this.#goawayReceived = true;
    this.onUnavailable?.();
    for (const s of [...this.streams.values()]) {
      if (s.id > last && this.role === "client") {
        s.fail(new H2Error(`stream refused by GOAWAY (code ${code})`, ErrorCode.REFUSED_STREAM, s.id));
      }
    }
    if (this.streams.size === 0) this.close();
  }

  // ---- errors and budgets ----

  #glitch(what: string, n = 1): void {
    if (!this.#glitches.spend(n)) throw new H2Violation("glitch_flood", `too many ${what}`);
  }

  /** A stream error the peer caused: RST_STREAM, counted against the local-error budget. */
  #streamError(stream: H2Stream, code: number, why: string): void {
    this.#countLocalError();
    stream.reset(code, new H2Error(why, code, stream.id));
  }

  #streamErrorId(id: number, code: number): void {
    this.#countLocalError();
    this.sendRst(id, code);
  }

  #countLocalError(): void {
    if (++this.#localErrorResets > this.#limits.maxLocalErrorResets) {
      throw new H2Violation(
        "stream_error_flood",
        `more than ${this.#limits.maxLocalErrorResets} stream errors`,
      );
    }
  }

  /** GOAWAY with the error's code, then the socket goes (after a short linger to flush it). */
  #connectionError(err: H2Error): void {
    if (this.#closed) return;
    const kind: H2ViolationKind = err instanceof H2Violation
      ? err.violation
      : err.code === ErrorCode.FLOW_CONTROL_ERROR
      ? "flow_control"
      : "protocol";
    if (!this.#violated && err.code !== ErrorCode.INTERNAL_ERROR) {
      this.#violated = true;
      quietly(() => this.onViolation?.(kind, err.message));
    }
    this.#gate.write(encodeGoaway(this.#lastPeerStreamId, err.code, err.message));
    // A peer that does not read (or is gone) would hold the socket open: do not wait on it.
    const stuck = kind === "write_flood" || kind === "ack_flood" || kind === "keepalive_timeout";
    if (stuck) return this.#terminate(err, true);
    this.socket.pause?.(); // read no more of what a misbehaving peer sends while GOAWAY flushes
    this.socket.end();
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      this.socket.destroy();
    }, LINGER_MS);
    this.#terminate(err, false);
  }

  #terminate(err: Error, destroy = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.error = err;
    this.#keepalive.stop();
    if (this.#prefaceTimer !== undefined) clearTimeout(this.#prefaceTimer);
    this.#prefaceTimer = undefined;
    for (const s of [...this.streams.values()]) quietly(() => s.fail(err));
    this.streams.clear();
    this.#newStreams = [];
    for (const [, lease] of this.#backlog) lease?.release();
    this.#backlog = [];
    this.#gate.close();
    const waiters = this.#connWindowWaiters;
    this.#connWindowWaiters = [];
    for (const w of waiters) w();
    quietly(() => this.onUnavailable?.()); // the session ends whatever a callback does
    if (destroy) this.socket.destroy();
    this.#closedResolve();
  }
}

/** Runs an application callback whose failure must not stop the session's own cleanup. */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch { /* the application's problem; the session is ending either way */ }
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
