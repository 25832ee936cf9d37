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
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeWindowUpdate,
  ErrorCode,
} from "./frame.ts";
import { HpackEncoder } from "./hpack.ts";
import {
  H2Error,
  H2ResponseTimeoutError,
  H2Violation,
  type H2ViolationKind,
  violationKind,
} from "./h2_error.ts";
import { H2Stream, type Headers, type StreamOwner } from "./stream.ts";
import type { BufferLease } from "./buffer_lease.ts";
import type { H2Socket } from "./h2_socket.ts";
import { type H2Limits, type H2Options, resolveH2Limits } from "./h2_options.ts";
import { InboundFrames } from "./inbound_frames.ts";
import { OutputGate } from "./output_gate.ts";
import { Keepalive } from "./keepalive.ts";
import { StreamIds } from "./stream_ids.ts";
import { SessionBudgets } from "./session_budgets.ts";
import { ConnectionWindow } from "./connection_window.ts";
import { openingFrames, PeerSettings } from "./peer_settings.ts";
import { ReadBacklog } from "./read_backlog.ts";
import { ResponseDeadlines } from "./response_deadlines.ts";

export type { H2Socket } from "./h2_socket.ts";
export { DEFAULT_H2_OPTIONS, type H2Options } from "./h2_options.ts";

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
  readonly #inbound: InboundFrames;
  readonly #encoder = new HpackEncoder();
  readonly #keepalive: Keepalive;
  readonly #backlog: ReadBacklog;
  readonly #deadlines = new ResponseDeadlines((s, ms) =>
    s.reset(ErrorCode.CANCEL, new H2ResponseTimeoutError(ms, s.id))
  );
  /** New streams held back while reading is paused (their answers would pile up too). */
  #deferred: H2Stream[] = [];
  #prefaceTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
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
    this.#gate = new OutputGate(socket, limits, (v) => this.#connectionError(v));
    this.#inbound = new InboundFrames({
      owner: this,
      streams: this.streams,
      isClosed: () => this.#closed,
      isGoingAway: () => this.#goawaySent,
      firstSettings: () => clearTimeout(this.#prefaceTimer),
      keepaliveAck: (opaque) => this.#keepalive.onAck(opaque),
      responded: (s) => this.#deadlines.done(s),
      goawayReceived: (last, code) => this.#onGoaway(last, code),
    }, {
      limits,
      ids: this.#ids,
      budgets: this.#budgets,
      window: this.#window,
      settings: this.#settings,
      gate: this.#gate,
    });
    this.#backlog = new ReadBacklog(limits.replyLimit, (c, l) => this.#parse(c, l), () => {
      this.#connectionError(new H2Violation("write_flood", "peer keeps sending while it does not read"));
    });
    socket.on("data", (chunk, lease) => this.#closed || this.#backlog.offer(chunk, lease, this.#gate.paused));
    // DATA views leave this session only through H2Stream, which retains and releases their lease.
    socket.reuseReceiveBuffers?.();
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (e) => this.#terminate(e));
    socket.on("close", () => {
      clearTimeout(this.#lingerTimer);
      this.#terminate(new H2Error("connection closed", ErrorCode.NO_ERROR, 0));
    });
    this.write(openingFrames(role, opts));
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
    if (ms !== undefined && ms > 0) this.#deadlines.add(stream, ms);
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
    if (frames) this.write(frames);
    if (c) this.write(c);
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
    this.#deadlines.done(stream);
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
    this.#inbound.expectPingAck();
    this.write(encodePing(new Uint8Array(8), false));
  }

  // ---- reading ----

  #parse(chunk: Uint8Array, lease: BufferLease | undefined): void {
    let fresh: H2Stream[] = [];
    try {
      fresh = this.#inbound.push(chunk, lease);
    } catch (e) {
      // Anything but an H2Error is a bug of ours, not the peer's fault: INTERNAL_ERROR, not a violation.
      const internal = () => new H2Error(`internal error: ${e}`, ErrorCode.INTERNAL_ERROR, 0, { cause: e });
      this.#connectionError(e instanceof H2Error ? e : internal());
    }
    this.#dispatch(fresh);
  }

  /** Hands the streams a chunk opened to onStream, skipping any it also reset or refused. */
  #dispatch(fresh: H2Stream[]): void {
    for (const [i, s] of fresh.entries()) {
      if (this.#gate.paused || this.#deferred.length > 0) {
        for (const rest of fresh.slice(i)) this.#deferred.push(rest);
        return;
      }
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
    const held = this.#deferred;
    this.#deferred = [];
    this.#dispatch(held);
    this.#backlog.flush(() => !this.#gate.paused && !this.#closed);
  }

  /** The peer's GOAWAY: no new streams; ours above its last id were refused (an abort for them). */
  #onGoaway(last: number, code: number): void {
    this.#goawayReceived = true;
    this.onUnavailable?.();
    for (const s of [...this.streams.values()]) {
      if (s.id > last && this.role === "client") {
        s.fail(new H2Error(`stream refused by GOAWAY (code ${code})`, ErrorCode.REFUSED_STREAM, s.id));
      }
    }
    if (this.streams.size === 0) this.close();
  }

  /** GOAWAY with the error's code, then the socket goes (after a short linger to flush it). */
  #connectionError(err: H2Error): void {
    if (this.#closed) return;
    const kind = violationKind(err);
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
    this.#deadlines.stop();
    clearTimeout(this.#prefaceTimer);
    for (const s of [...this.streams.values()]) quietly(() => s.fail(err));
    this.streams.clear();
    this.#backlog.clear();
    this.#deferred = [];
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
