/**
 * A minimal HTTP/2 connection for HBONE (RFC 9113), client or server, over any byte socket
 * (node:tls in practice): CONNECT streams, flow control, HPACK, SETTINGS, PING keepalive, GOAWAY,
 * hardened against a hostile peer (limits: h2_options.ts; what is refused and why: h2_error.ts).
 *
 * Memory one connection can make us hold, with the defaults: a split frame ≤ maxFrameSize (1 MiB),
 * an open header block ≤ maxHeaderBlockSize (64 KiB), the HPACK table (4 KiB); ≤ 200 streams with a
 * header list ≤ 64 KiB each; received DATA ≤ the connection window we advertise (16 MiB), whose
 * pieces keep ≤ 4× their size of receive buffers alive, ≤ maxPinnedBytes (8 MiB) for small pieces,
 * with pieces under 256 bytes capped by the DATA-frame budget; replies owed to a non-reading peer ≤
 * replyLimit (1 MiB) + one PING ACK + maxQueuedAcks SETTINGS ACKs; chunks read while paused ≤
 * replyLimit. About 100 MiB at worst, most of it the advertised window; floods of anything else end
 * the connection (session_budgets.ts, output_gate.ts).
 */
import {
  CONNECTION_PREFACE,
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
import { type HeaderBlock, HeaderBlockAssembler } from "./header_block.ts";
import { decideNewStream, decideOnOpen, type HeaderDecision } from "./header_decisions.ts";
import { checkFrame } from "./frame_rules.ts";
import { OutputGate } from "./output_gate.ts";
import { Keepalive } from "./keepalive.ts";
import { StreamIds } from "./stream_ids.ts";
import { SessionBudgets } from "./session_budgets.ts";
import { ConnectionWindow, DEFAULT_WINDOW } from "./connection_window.ts";
import { PeerSettings } from "./peer_settings.ts";

export type { H2Socket } from "./h2_socket.ts";
export { DEFAULT_H2_OPTIONS, type H2Options } from "./h2_options.ts";

/** A DATA piece viewing less than 1/PIN_RATIO of its receive buffer pins the whole buffer (budgeted). */
const PIN_RATIO = 4;
/** WINDOW_UPDATE increments under this count as zero-progress frames. */
const SMALL_INCREMENT = 1024;
/** After a connection error the socket gets this long to flush GOAWAY before it is destroyed. */
const LINGER_MS = 1000;

export interface RequestOptions {
  /** Reset the stream (CANCEL) and reject `response` with H2ResponseTimeoutError if none comes in time. */
  readonly responseTimeoutMs?: number;
}

export class H2Session implements StreamOwner {
  readonly streams = new Map<number, H2Stream>();
  readonly #limits: H2Limits;
  readonly #gate: OutputGate;
  readonly #budgets: SessionBudgets;
  readonly #ids: StreamIds;
  readonly #window: ConnectionWindow;
  readonly #settings: PeerSettings;
  readonly #parser: FrameParser;
  readonly #decoder: HpackDecoder;
  readonly #encoder = new HpackEncoder();
  readonly #blocks: HeaderBlockAssembler;
  readonly #keepalive: Keepalive;
  /** The lease of the chunk being parsed, when the socket lends its buffers. */
  #lease: BufferLease | undefined;
  /** Chunks that arrived while reading was paused, with their (retained) leases. */
  #backlog: Array<[Uint8Array, BufferLease | undefined]> = [];
  #backlogBytes = 0;
  /** Server streams opened by the chunk being parsed: handed to onStream once it is parsed. */
  #newStreams: H2Stream[] = [];
  /** Bytes of the DATA frame being received, so far (an empty frame is a zero-progress frame). */
  #frameData = 0;
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
    this.#ids = new StreamIds(role);
    this.#budgets = new SessionBudgets(limits);
    this.#window = new ConnectionWindow(opts.connectionWindow);
    this.#settings = new PeerSettings(role, opts.streamWindow, limits.maxSettingsEntries);
    this.#decoder = new HpackDecoder(4096, opts.maxHeaderListSize);
    this.#blocks = new HeaderBlockAssembler(limits.maxHeaderBlockSize, limits.maxContinuationFrames);
    this.#gate = new OutputGate(socket, limits, (v) => this.#connectionError(v));
    this.#parser = new FrameParser({
      onFrame: (t, f, id, p) => this.#onFrame(t, f, id, p),
      onData: (id, d, e, fb, last) => this.#onData(id, d, e, fb, last),
    }, opts.maxFrameSize);
    if (role === "server") this.#parser.expectPreface();
    socket.on("data", (chunk, lease) => this.#onChunk(chunk, lease));
    // DATA views leave this session only through H2Stream, which retains and releases their lease.
    socket.reuseReceiveBuffers?.();
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (e) => this.#terminate(e));
    socket.on("close", () => {
      clearTimeout(this.#lingerTimer);
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
      const what = role === "server" ? "connection preface" : "server SETTINGS";
      this.#prefaceTimer = setTimeout(() => {
        const v = new H2Violation("preface_timeout", `no ${what} within ${limits.prefaceTimeoutMs} ms`);
        this.#connectionError(v);
      }, limits.prefaceTimeoutMs);
    }
    const unanswered = `PING unanswered for ${limits.keepaliveTimeoutMs} ms`;
    this.#keepalive = new Keepalive(
      limits.keepaliveIntervalMs,
      limits.keepaliveTimeoutMs,
      (opaque) => this.write(encodePing(opaque, false)),
      () => this.#connectionError(new H2Violation("keepalive_timeout", unanswered, ErrorCode.NO_ERROR)),
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
  get peerMaxFrameSize(): number {
    return this.#settings.maxFrameSize;
  }
  get peerInitialWindow(): number {
    return this.#settings.initialWindow;
  }
  get peerMaxConcurrentStreams(): number {
    return this.#settings.maxConcurrentStreams;
  }
  /** What we may still send on the connection (H2Stream.write takes from it). */
  get connSendWindow(): number {
    return this.#window.send;
  }
  set connSendWindow(v: number) {
    this.#window.send = v;
  }

  /** Client: opens a stream with the given request headers (pseudo-headers first). */
  request(headers: Headers, opts: RequestOptions = {}): H2Stream {
    if (!this.available) throw new H2Error("session not available for new streams", ErrorCode.REFUSED_STREAM);
    const id = this.#ids.take();
    const stream = new H2Stream(id, this, this.#settings.initialWindow, this.#settings.recvInitialWindow);
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
        if (stream.responseResolve) stream.reset(ErrorCode.CANCEL, new H2ResponseTimeoutError(ms, id));
      }, ms);
    }
    return stream;
  }

  /** Server: sends response headers; with endStream the stream's sending half ends too. */
  respond(stream: H2Stream, headers: Headers, endStream: boolean): void {
    this.answer(stream);
    if (stream.isClosed && stream.error) return;
    const block = this.#encoder.encode(headers);
    this.#gate.reply(encodeHeaders(stream.id, block, endStream, this.peerMaxFrameSize));
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
    return this.#closed ? Promise.resolve() : this.#window.wait();
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
    const c = this.#window.giveBack(n);
    if (c) frames = frames ? concat([frames, c]) : c;
    if (frames) this.write(frames);
  }

  refund(charge: number, pinned: number): void {
    this.#budgets.refund(charge, pinned);
  }

  answer(stream: H2Stream): void {
    stream.answered = true;
    if (!stream.resetUnanswered) return;
    stream.resetUnanswered = false;
    this.#budgets.resetAnswered();
  }

  sendRst(id: number, code: number): void {
    this.#ids.markReset(id);
    this.#gate.reply(encodeRstStream(id, code));
  }

  streamClosed(stream: H2Stream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    this.#ids.markClosed(stream.id);
    this.onStreamClosed?.(stream);
    if ((this.#goawaySent || this.#goawayReceived) && this.streams.size === 0) this.close();
  }

  // ---- lifecycle ----

  /** Graceful: GOAWAY, no new streams; the socket closes when the last stream is done. */
  goaway(code: number = ErrorCode.NO_ERROR): void {
    if (this.#goawaySent || this.#closed) return;
    this.#goawaySent = true;
    this.write(encodeGoaway(this.#ids.lastPeer, code));
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
      const internal = () => new H2Error(`internal error: ${e}`, ErrorCode.INTERNAL_ERROR, 0, { cause: e });
      this.#connectionError(e instanceof H2Error ? e : internal());
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

  // ---- frames ----

  #onData(id: number, data: Uint8Array, endStream: boolean, flow: number, last: boolean): void {
    if (this.#closed) return;
    if (this.#settings.awaitingFirst || this.#blocks.open) {
      throw new H2Error("DATA before SETTINGS or inside a header block", ErrorCode.PROTOCOL_ERROR);
    }
    this.#window.consume(flow);
    this.#frameData += data.length;
    if (last) {
      if (this.#frameData === 0 && !endStream) this.#budgets.glitch("empty DATA frames");
      this.#frameData = 0;
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id === 0 || this.#ids.isIdle(id)) {
        throw new H2Error(`DATA on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
      }
      this.#giveBack(flow); // nobody reads it
      if (!this.#ids.wasReset(id)) this.#streamErrorId(id, ErrorCode.STREAM_CLOSED); // else it raced our reset
      return;
    }
    if (s.remoteEnded) return this.#discard(s, flow, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    if (flow > s.recvWindow) {
      return this.#discard(s, flow, ErrorCode.FLOW_CONTROL_ERROR, "DATA past the stream window");
    }
    s.recvWindow -= flow;
    if (s.contentLength !== undefined) {
      s.dataReceived += data.length;
      if (s.dataReceived > s.contentLength || (endStream && s.dataReceived !== s.contentLength)) {
        return this.#discard(s, flow, ErrorCode.PROTOCOL_ERROR, "DATA does not match content-length");
      }
    }
    if (flow > data.length) this.credit(s, flow - data.length); // padding
    const n = data.length;
    const charge = this.#budgets.chargeData(n);
    // A piece much smaller than the buffer it views keeps the whole buffer alive until released:
    // budgeted per connection; past the budget such pieces are copied instead.
    let lease = this.#lease;
    let pinned = 0;
    if (n > 0 && n * PIN_RATIO < data.buffer.byteLength) {
      if (this.#budgets.pin(data.buffer.byteLength)) pinned = data.buffer.byteLength;
      else {
        data = data.slice();
        lease = undefined;
      }
    }
    s.onData(data, endStream, lease, charge, pinned);
  }

  #giveBack(flow: number): void {
    const c = this.#window.giveBack(flow);
    if (c) this.write(c);
  }

  /** A stream error on DATA: the bytes are dropped (their connection window returned) and the stream reset. */
  #discard(stream: H2Stream, flow: number, code: number, why: string): void {
    this.#giveBack(flow);
    this.#streamError(stream, code, why);
  }

  #onFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.#closed) return;
    if (this.#settings.awaitingFirst && (type !== FrameType.SETTINGS || flags & Flag.ACK)) {
      throw new H2Error("the first frame must be SETTINGS", ErrorCode.PROTOCOL_ERROR);
    }
    if (this.#blocks.open && type !== FrameType.CONTINUATION) {
      throw new H2Error("expected CONTINUATION", ErrorCode.PROTOCOL_ERROR);
    }
    checkFrame(type, flags, id, payload.length);
    switch (type) {
      case FrameType.HEADERS:
        return this.#onHeaderBlock(this.#blocks.headers(id, flags, payload));
      case FrameType.CONTINUATION:
        return this.#onHeaderBlock(this.#blocks.continuation(id, flags, payload));
      case FrameType.SETTINGS:
        return this.#onSettings(flags, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(id, readUint32(payload, 0) & MAX_WINDOW_SIZE);
      case FrameType.PING:
        return this.#onPing(flags, payload);
      case FrameType.RST_STREAM:
        return this.#onRst(id, readUint32(payload, 0));
      case FrameType.GOAWAY:
        return this.#onGoaway(readUint32(payload, 0) & MAX_WINDOW_SIZE, readUint32(payload, 4));
      case FrameType.PRIORITY:
        return this.#onPriority(id, payload);
      default:
        return this.#budgets.glitch("frames of unknown types");
    }
  }

  #onHeaderBlock(b: HeaderBlock | undefined): void {
    if (b === undefined) return; // CONTINUATION frames follow
    const headers = this.#decoder.decode(b.block);
    if (this.#decoder.sizeUpdates > 0) {
      this.#budgets.glitch("HPACK table size updates", this.#decoder.sizeUpdates);
    }
    const id = b.streamId;
    const endStream = (b.flags & Flag.END_STREAM) !== 0;
    const s = this.streams.get(id);
    const d: HeaderDecision = s
      ? decideOnOpen(
        {
          awaitingResponse: s.responseResolve !== undefined,
          remoteEnded: s.remoteEnded,
          contentLength: s.contentLength,
          dataReceived: s.dataReceived,
        },
        headers,
        endStream,
      )
      : decideNewStream(
        {
          ids: this.#ids,
          goingAway: this.#goawaySent,
          openStreams: this.streams.size,
          maxConcurrentStreams: this.opts.maxConcurrentStreams,
        },
        id,
        headers,
        endStream,
        b.dependsOn,
      );
    if (s === undefined && this.#ids.isPeerId(id) && this.#ids.isIdle(id)) this.#ids.opened(id);
    switch (d.kind) {
      case "open": {
        const n = new H2Stream(id, this, this.#settings.initialWindow, this.#settings.recvInitialWindow);
        n.requestHeaders = headers;
        n.contentLength = d.contentLength;
        this.streams.set(id, n);
        if (endStream) n.onRemoteEnd();
        this.#newStreams.push(n);
        return;
      }
      case "response": {
        const resolve = s!.responseResolve!;
        s!.responseResolve = undefined;
        clearTimeout(s!.responseTimer);
        s!.contentLength = d.contentLength;
        resolve(headers);
        if (endStream) s!.onRemoteEnd();
        return;
      }
      case "trailers":
        return s!.onRemoteEnd();
      case "informational":
        return;
      case "ignore":
        return this.#budgets.glitch("HEADERS on reset streams");
      case "refuse":
        this.#budgets.glitch("refused streams");
        return this.sendRst(id, ErrorCode.REFUSED_STREAM);
      case "stream_error":
        return s ? this.#streamError(s, d.code, d.why) : this.#streamErrorId(id, d.code);
    }
  }

  #onSettings(flags: number, payload: Uint8Array): void {
    if (flags & Flag.ACK) {
      if (!this.#settings.acked(this.streams.values())) this.#budgets.glitch("unsolicited SETTINGS ACKs");
      return;
    }
    const first = this.#settings.awaitingFirst;
    this.#settings.apply(payload, this.streams.values());
    if (first) clearTimeout(this.#prefaceTimer);
    else this.#budgets.glitch("SETTINGS frames");
    this.#gate.settingsAck();
  }

  #onWindowUpdate(id: number, inc: number): void {
    if (id === 0) {
      if (inc === 0) throw new H2Error("zero WINDOW_UPDATE", ErrorCode.PROTOCOL_ERROR);
      if (inc < SMALL_INCREMENT) this.#budgets.glitch("tiny WINDOW_UPDATEs");
      return this.#window.onUpdate(inc);
    }
    if (this.#ids.isIdle(id)) {
      throw new H2Error(`WINDOW_UPDATE on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
    }
    const s = this.streams.get(id);
    if (inc === 0) {
      return s
        ? this.#streamError(s, ErrorCode.PROTOCOL_ERROR, "zero WINDOW_UPDATE")
        : this.#streamErrorId(id, ErrorCode.PROTOCOL_ERROR);
    }
    if (s === undefined) return; // closed: the update raced its end
    if (s.sendWindow + inc > MAX_WINDOW_SIZE) {
      return this.#streamError(s, ErrorCode.FLOW_CONTROL_ERROR, "stream window past 2^31-1");
    }
    if (inc < SMALL_INCREMENT) this.#budgets.glitch("tiny WINDOW_UPDATEs");
    s.onWindowUpdate(inc);
  }

  #onPing(flags: number, payload: Uint8Array): void {
    if (!(flags & Flag.ACK)) {
      this.#budgets.glitch("PING frames");
      return this.#gate.pingAck(payload);
    }
    if (this.#keepalive.onAck(payload)) return;
    if (this.#userPings > 0 && payload.every((b) => b === 0)) this.#userPings--;
    else this.#budgets.glitch("unsolicited PING ACKs");
  }

  #onRst(id: number, code: number): void {
    if (this.#ids.isIdle(id)) throw new H2Error(`RST_STREAM on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (this.role === "server" && !s.answered) {
      if (!s.dispatched) this.#budgets.glitch("streams reset before they were handed over");
      else {
        s.resetUnanswered = true;
        this.#budgets.resetBeforeAnswer();
      }
    }
    s.fail(new H2Error(`stream reset by peer (code ${code})`, code, id));
  }

  #onPriority(id: number, payload: Uint8Array): void {
    const s = this.streams.get(id);
    const why = payload.length !== 5
      ? "PRIORITY of the wrong size"
      : (readUint32(payload, 0) & MAX_WINDOW_SIZE) === id
      ? "stream depends on itself"
      : undefined;
    if (why === undefined) return this.#budgets.glitch("PRIORITY frames");
    const code = payload.length !== 5 ? ErrorCode.FRAME_SIZE_ERROR : ErrorCode.PROTOCOL_ERROR;
    if (s) return this.#streamError(s, code, why);
    throw new H2Error(why, code);
  }

  #onGoaway(last: number, code: number): void {
    if (this.#goawayReceived) this.#budgets.glitch("GOAWAY frames");
    this.#goawayReceived = true;
    this.onUnavailable?.();
    for (const s of [...this.streams.values()]) {
      if (s.id > last && this.role === "client") {
        s.fail(new H2Error(`stream refused by GOAWAY (code ${code})`, ErrorCode.REFUSED_STREAM, s.id));
      }
    }
    if (this.streams.size === 0) this.close();
  }

  // ---- errors ----

  /** A stream error the peer caused: RST_STREAM, counted against the local-error budget. */
  #streamError(stream: H2Stream, code: number, why: string): void {
    this.#budgets.localError();
    stream.reset(code, new H2Error(why, code, stream.id));
  }

  #streamErrorId(id: number, code: number): void {
    this.#budgets.localError();
    this.sendRst(id, code);
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
    this.#gate.write(encodeGoaway(this.#ids.lastPeer, err.code, err.message));
    // A peer that does not read (or is gone) would hold the socket open: do not wait on it.
    if (kind === "write_flood" || kind === "ack_flood" || kind === "keepalive_timeout") {
      return this.#terminate(err, true);
    }
    this.socket.pause?.(); // read no more of what a misbehaving peer sends while GOAWAY flushes
    this.socket.end();
    this.#lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.#terminate(err, false);
  }

  #terminate(err: Error, destroy = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.error = err;
    this.#keepalive.stop();
    clearTimeout(this.#prefaceTimer);
    for (const s of [...this.streams.values()]) quietly(() => s.fail(err));
    this.streams.clear();
    this.#newStreams = [];
    for (const [, lease] of this.#backlog) lease?.release();
    this.#backlog = [];
    this.#gate.close();
    this.#window.wake();
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
