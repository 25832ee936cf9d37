/**
 * One HTTP/2 stream of an HBONE tunnel: a full-duplex byte pipe with flow control both ways.
 *
 * Reading is pull-based: `read()` yields the next DATA piece (a view; the session copies only a piece
 * much smaller than its buffer once the connection's pinning budget is spent), `release(n)`
 * returns n bytes of window to the peer once they have been written onwards. Writing takes a buffer
 * with FRAME_HEADER_SIZE bytes of headroom so the DATA frame header is written in place (no copy).
 *
 * End and abort are distinct: END_STREAM reaches a reader as `null` and a sink as `onEnd()`; a reset
 * (RST_STREAM either way, GOAWAY refusing the stream, a timeout, the connection lost) rejects `read()`
 * and reaches a sink as `onError(err)` with an H2Error carrying the code.
 */
import { ErrorCode, Flag, FRAME_HEADER_SIZE, FrameType, writeFrameHeader } from "./frame.ts";
import { H2Error } from "./h2_error.ts";
import type { BufferLease } from "./buffer_lease.ts";
import { PieceLedger } from "./piece_ledger.ts";

/** What a stream needs from its session (kept narrow so the session can be swapped in tests). */
export interface StreamOwner {
  readonly peerMaxFrameSize: number;
  connSendWindow: number;
  /** `flushed`: called once the transport no longer holds `buf` (so its owner may reuse it). */
  write(buf: Uint8Array, flushed?: () => void): void;
  writeTwo(header: Uint8Array, payload: Uint8Array, flushed?: () => void): void;
  drained(): Promise<void> | undefined;
  waitConnWindow(): Promise<void>;
  /** n received bytes were consumed: their window may go back to the peer. */
  credit(stream: H2Stream, n: number): void;
  /** A released (or dropped) piece's charges against the connection's budgets are given back. */
  refund(charge: number, pinned: number): void;
  /** The local side answered the stream (responded or reset it). */
  answer(stream: H2Stream): void;
  sendRst(id: number, code: number): void;
  streamClosed(stream: H2Stream): void;
}

export type Headers = Array<[string, string]>;

/**
 * A push-mode consumer of a stream's incoming side (see `H2Stream.attach`): an idle connection then
 * holds no pending promise for its inbound half, only this object.
 */
export interface StreamSink {
  /** A DATA piece (a view, never copied); call `release(n)` once it has been written onwards. */
  onData(chunk: Uint8Array): void;
  /** END_STREAM: no more data. */
  onEnd(): void;
  /** The stream was aborted (reset either way, refused, timed out, or its connection lost). */
  onError(err: Error): void;
}

export class H2Stream {
  sendWindow: number;
  /** Bytes received and released but not yet returned to the peer as WINDOW_UPDATE. */
  unacked = 0;
  // ---- session bookkeeping (only H2Session touches these) ----
  /** Flow-controlled bytes the peer may still send on this stream (our window as the peer sees it). */
  recvWindow: number;
  /** Handed to the server's onStream. */
  dispatched = false;
  /** The local side answered (respond or reset). */
  answered = false;
  /** Reset by the peer after dispatch and before an answer: counted against the rapid-reset budget. */
  resetUnanswered = false;
  /** A request's content-length, when it has one (DATA must add up to it). */
  contentLength: number | undefined;
  dataReceived = 0;
  // ---- stream state ----
  #queue: Uint8Array[] = [];
  #reader?: { resolve: (v: Uint8Array | null) => void; reject: (e: Error) => void };
  #sink?: StreamSink;
  /** Received bytes not yet released and what they hold; made on the first DATA. */
  #ledger: PieceLedger | undefined;
  #windowWaiter?: () => void;
  #remoteEnded = false;
  #localEnded = false;
  #error?: Error;
  /** Set when the peer ended the exchange with RST_STREAM(NO_ERROR): writes fail, reads finish. */
  #sendError?: Error;
  #peerResetCode?: number;
  #closed = false;
  /** The response headers (client side), resolved when they arrive. */
  response?: Promise<Headers>;
  responseResolve?: (h: Headers) => void;
  responseReject?: (e: Error) => void;
  /** The request headers (server side). */
  requestHeaders: Headers = [];

  constructor(
    readonly id: number,
    readonly owner: StreamOwner,
    initialSendWindow: number,
    initialRecvWindow = 65535,
  ) {
    this.sendWindow = initialSendWindow;
    this.recvWindow = initialRecvWindow;
  }

  get remoteEnded(): boolean {
    return this.#remoteEnded;
  }
  get localEnded(): boolean {
    return this.#localEnded;
  }
  get isClosed(): boolean {
    return this.#closed;
  }
  /** Why the stream was aborted (an H2Error for resets), undefined if it was not. */
  /** The code of the peer's RST_STREAM, when it reset this stream (an abort, or NO_ERROR/CANCEL: an end). */
  get peerResetCode(): number | undefined {
    return this.#peerResetCode;
  }
  get error(): Error | undefined {
    return this.#error;
  }

  /** The next piece of data, or null at END_STREAM. Rejects if the stream was aborted. */
  read(): Promise<Uint8Array | null> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift()!);
    if (this.#error) return Promise.reject(this.#error);
    if (this.#remoteEnded) return Promise.resolve(null);
    return new Promise((resolve, reject) => (this.#reader = { resolve, reject }));
  }

  /**
   * Switches to push mode: data already queued, then every later piece, END_STREAM and errors go to
   * `sink` instead of `read()`. Call at most once, with no `read()` pending.
   */
  attach(sink: StreamSink): void {
    this.#sink = sink;
    const queued = this.#queue;
    this.#queue = [];
    for (const chunk of queued) sink.onData(chunk);
    if (this.#error) sink.onError(this.#error);
    else if (this.#remoteEnded) sink.onEnd();
  }

  /** Returns n consumed bytes of flow-control window to the peer (and their buffers, once all read). */
  release(n: number): void {
    if (n <= 0) return;
    this.owner.credit(this, n);
    this.#ledger?.release(n, this.owner);
  }

  /**
   * Sends `buf[FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + n)` as DATA. The first FRAME_HEADER_SIZE bytes of
   * `buf` are headroom this call may overwrite. The caller must not touch `buf` afterwards.
   * Resolves when the bytes are handed to TLS and the socket is not over its high-water mark.
   * `flushed` is called once the transport no longer holds `buf` (never, if the stream fails first).
   */
  async write(buf: Uint8Array, n: number, flushed?: () => void): Promise<void> {
    let offset = FRAME_HEADER_SIZE;
    let remaining = n;
    while (remaining > 0) {
      if (this.#error) throw this.#error;
      if (this.#sendError) throw this.#sendError;
      if (this.#localEnded) throw new H2Error("write after end", ErrorCode.STREAM_CLOSED, this.id);
      const owner = this.owner;
      if (this.sendWindow <= 0) {
        await new Promise<void>((r) => (this.#windowWaiter = r));
        continue;
      }
      if (owner.connSendWindow <= 0) {
        await owner.waitConnWindow();
        continue;
      }
      const len = Math.min(remaining, this.sendWindow, owner.connSendWindow, owner.peerMaxFrameSize);
      this.sendWindow -= len;
      owner.connSendWindow -= len;
      const last = len === remaining ? flushed : undefined;
      if (offset === FRAME_HEADER_SIZE && len === n) {
        writeFrameHeader(buf, 0, len, FrameType.DATA, 0, this.id);
        owner.write(
          n + FRAME_HEADER_SIZE === buf.length ? buf : buf.subarray(0, n + FRAME_HEADER_SIZE),
          last,
        );
      } else {
        const header = new Uint8Array(FRAME_HEADER_SIZE);
        writeFrameHeader(header, 0, len, FrameType.DATA, 0, this.id);
        owner.writeTwo(header, buf.subarray(offset, offset + len), last);
      }
      offset += len;
      remaining -= len;
    }
    const d = this.owner.drained();
    if (d) await d;
  }

  /** Convenience for small writes (tests, handshakes): copies into a buffer with headroom. */
  writeBytes(data: Uint8Array): Promise<void> {
    const buf = new Uint8Array(FRAME_HEADER_SIZE + data.length);
    buf.set(data, FRAME_HEADER_SIZE);
    return this.write(buf, data.length);
  }

  /** Half-close: END_STREAM after everything written so far. */
  end(): void {
    if (this.#localEnded || this.#error) return;
    this.#localEnded = true;
    const frame = new Uint8Array(FRAME_HEADER_SIZE);
    writeFrameHeader(frame, 0, 0, FrameType.DATA, Flag.END_STREAM, this.id);
    this.owner.write(frame);
    this.#maybeClosed();
  }

  /** Marks the local half ended without sending (used when END_STREAM went out on HEADERS). */
  markLocalEnded(): void {
    this.#localEnded = true;
    this.#maybeClosed();
  }

  /**
   * Aborts the stream: RST_STREAM to the peer, errors for local readers and writers. A stream already
   * failing (reset by either side: its sink may call this from onError) sends nothing more (RFC 9113
   * §5.1: nothing but PRIORITY on a closed stream; §5.4.2: no RST_STREAM in answer to one).
   */
  reset(code: number = ErrorCode.CANCEL, err?: Error): void {
    this.owner.answer(this);
    if (this.#closed || this.#error) return;
    this.owner.sendRst(this.id, code);
    this.fail(err ?? new H2Error(`stream reset locally (code ${code})`, code, this.id));
  }

  // ---- session side ----

  /**
   * DATA arrived (flow control already checked by the session). `lease`: the socket lends the buffer
   * `data` views; it is retained until the reader releases these bytes. `charge` / `pinned`: what
   * this piece cost the connection's DATA-frame and pinning budgets, refunded once it is released.
   */
  onData(data: Uint8Array, endStream: boolean, lease?: BufferLease, charge = 0, pinned = 0): void {
    if (this.#error || this.#remoteEnded) {
      if (data.length) this.owner.credit(this, data.length);
      if (charge > 0 || pinned > 0) this.owner.refund(charge, pinned);
      return;
    }
    if (data.length > 0) {
      (this.#ledger ??= new PieceLedger()).add(data.length, lease, charge, pinned);
      const sink = this.#sink;
      if (sink) sink.onData(data);
      else {
        const r = this.#reader;
        if (r) {
          this.#reader = undefined;
          r.resolve(data);
        } else this.#queue.push(data);
      }
    }
    if (endStream) this.onRemoteEnd();
  }

  onRemoteEnd(): void {
    if (this.#remoteEnded) return;
    this.#remoteEnded = true;
    this.#sink?.onEnd();
    const r = this.#reader;
    if (r && this.#queue.length === 0) {
      this.#reader = undefined;
      r.resolve(null);
    }
    this.#maybeClosed();
  }

  onWindowUpdate(increment: number): void {
    this.sendWindow += increment;
    this.wakeWriter();
  }

  wakeWriter(): void {
    const w = this.#windowWaiter;
    if (w && this.sendWindow > 0) {
      this.#windowWaiter = undefined;
      w();
    }
  }

  /**
   * The peer reset the stream. NO_ERROR is no failure (RFC 9113 §8.1: "stop sending, the exchange is
   * complete"), and ztunnel (its h2 read side) and Go's transport treat CANCEL the same way: what arrived
   * is still delivered and ends as END_STREAM would, only this side may send nothing more. Any other
   * code — CONNECT_ERROR, which zt sends when its TCP side fails (RFC 9113 §8.5), above all — is an
   * abort, and so is any reset before the CONNECT was answered (`beforeAnswer`): the tunnel was cancelled.
   */
  onPeerReset(code: number, beforeAnswer = false): void {
    if (this.#closed) return;
    this.#peerResetCode = code;
    if (beforeAnswer || (code !== ErrorCode.NO_ERROR && code !== ErrorCode.CANCEL)) {
      this.fail(new H2Error(`stream reset by peer (code ${code})`, code, this.id));
      return;
    }
    this.#localEnded = true;
    this.#sendError = new H2Error(
      "peer reset the stream with NO_ERROR: it takes no more data",
      ErrorCode.STREAM_CLOSED,
      this.id,
    );
    const w = this.#windowWaiter;
    this.#windowWaiter = undefined;
    w?.();
    this.onRemoteEnd();
  }

  /** Terminal failure (reset, refusal, timeout, connection loss): wakes everyone with the error. */
  fail(err: Error): void {
    if (this.#closed) return;
    this.#error = err;
    let dropped = 0;
    for (const q of this.#queue) dropped += q.length;
    this.#queue.length = 0;
    if (dropped) this.owner.credit(this, dropped);
    // Pieces already handed out may still be in a pending socket write: their buffers are not reused,
    // but their budget charges are given back (the session no longer accounts for them).
    this.#ledger?.drop(this.owner);
    const r = this.#reader;
    this.#reader = undefined;
    r?.reject(err);
    this.#sink?.onError(err);
    this.responseReject?.(err);
    const w = this.#windowWaiter;
    this.#windowWaiter = undefined;
    w?.();
    this.#close();
  }

  /** Both halves ended: the stream leaves the session (queued data stays readable). */
  #maybeClosed(): void {
    if (this.#localEnded && this.#remoteEnded) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.owner.streamClosed(this);
  }
}
