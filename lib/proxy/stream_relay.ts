/**
 * Socket ⇄ HBONE stream relay without async functions: node:net delivers the socket's data and the
 * stream pushes its DATA (`H2Stream.attach`), so an idle tunnel holds no pending promise, only this
 * object and its listeners. Half-close is carried both ways; no byte is lost.
 *
 * socket → stream: each chunk becomes DATA; while a write waits for flow-control window (or for TLS to
 * drain), later chunks queue and the socket is paused, so at most a few chunks are held.
 * stream → socket: DATA pieces are written in order and their window goes back to the peer once the
 * socket has taken them; END_STREAM becomes FIN after them.
 * Aborts propagate: a stream reset by the peer (or lost with its connection) resets the socket (RST),
 * and a socket that fails resets the stream — only a clean end is a FIN / END_STREAM.
 */
import type net from "node:net";
import { ErrorCode, FRAME_HEADER_SIZE } from "../tunnel/h2/frame.ts";
import type { H2Stream, StreamSink } from "../tunnel/h2/stream.ts";
import { resetSocket } from "../net/socket_info.ts";
import type { RelayCounts } from "./relay_counts.ts";

/** Called once: `error` is undefined when both halves finished cleanly. */
export type RelayDone = (error: unknown) => void;

export class StreamRelay implements StreamSink {
  /** Socket chunks waiting for the write in flight. */
  #backlog: Uint8Array[] | undefined;
  #writing = false;
  #socketEnded = false;
  #connDone = false;
  #streamDone = false;
  #finished = false;

  constructor(
    readonly socket: net.Socket,
    readonly stream: H2Stream,
    readonly counts: RelayCounts,
    readonly done: RelayDone,
  ) {}

  /** Starts both directions. `prefix`: socket bytes already read (sent first). */
  start(prefix?: Uint8Array): void {
    const s = this.socket;
    this.stream.attach(this);
    if (prefix && prefix.length) this.#fromSocket(prefix);
    s.on("data", (chunk: Uint8Array) => this.#fromSocket(chunk));
    s.on("end", () => {
      this.#socketEnded = true;
      if (!this.#writing) this.#endStream();
    });
    s.on("error", (e: Error) => this.#fail(e));
    s.on("close", (hadError: boolean) => {
      // Closed after its own end and ours: a clean end (the last chunk may still be on its way into
      // the stream). Anything else is an abort.
      if (hadError || !this.#socketEnded || !this.#streamDone) {
        this.#fail(new Error(hadError ? "connection reset" : "connection closed before the stream ended"));
      }
    });
    s.resume();
  }

  // ---- socket → stream ----

  #fromSocket(chunk: Uint8Array): void {
    if (this.#finished) return;
    this.counts.fromConn += chunk.length;
    if (this.#writing) {
      (this.#backlog ??= []).push(chunk);
      this.socket.pause();
      return;
    }
    this.#write(chunk);
  }

  #write(chunk: Uint8Array): void {
    this.#writing = true;
    const buf = new Uint8Array(FRAME_HEADER_SIZE + chunk.length);
    buf.set(chunk, FRAME_HEADER_SIZE);
    this.stream.write(buf, chunk.length).then(this.#written, this.#fail);
  }

  #written = (): void => {
    if (this.#finished) return;
    const next = this.#backlog?.shift();
    if (next !== undefined) return this.#write(next);
    this.#writing = false;
    this.#backlog = undefined;
    if (this.#socketEnded) this.#endStream();
    else this.socket.resume();
  };

  #endStream(): void {
    if (this.#connDone) return;
    this.#connDone = true;
    this.stream.end();
    this.#maybeDone();
  }

  // ---- stream → socket (StreamSink) ----

  onData(chunk: Uint8Array): void {
    if (this.#finished) return;
    const n = chunk.length;
    this.socket.write(chunk, (err) => {
      if (err) return this.#fail(err);
      this.counts.fromStream += n;
      this.stream.release(n);
    });
  }

  onEnd(): void {
    if (this.#finished) return;
    // FIN once every byte written before it has been flushed.
    this.socket.end(() => {
      this.#streamDone = true;
      this.#maybeDone();
    });
  }

  onError(err: Error): void {
    this.#fail(err);
  }

  // ---- the end ----

  #maybeDone(): void {
    if (this.#finished || !this.#connDone || !this.#streamDone) return;
    this.#finished = true;
    this.socket.destroy();
    this.done(undefined);
  }

  /**
   * First error wins: the stream is reset with CONNECT_ERROR (RFC 9113 §8.5: the tunnelled TCP
   * connection failed), the socket reset (RST), `done(error)` called.
   */
  #fail = (e: unknown): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#backlog = undefined;
    this.stream.reset(ErrorCode.CONNECT_ERROR);
    resetSocket(this.socket);
    this.done(e);
  };

  /** Tears the relay down now (policy change, drain deadline). */
  abort(reason: Error): void {
    this.#fail(reason);
  }
}
