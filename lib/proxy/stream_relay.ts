/**
 * Socket ⇄ HBONE stream relay without async functions: each direction is a chain of callbacks on an
 * object, so an idle tunnel holds one pending socket read and this object, nothing more (no generator,
 * promise chain or closure per `await`). Half-close is carried both ways; no byte is lost.
 *
 * socket → stream: read into a buffer with DATA-header headroom (starting at INITIAL_BUFFER, ×4 while
 * reads fill it), write it as one DATA frame, read again; EOF sends END_STREAM.
 * stream → socket: the stream pushes DATA pieces (`H2Stream.attach`); they are written in order, and
 * each written byte's window goes back to the peer; END_STREAM becomes FIN once the queue is empty.
 */
import { FRAME_HEADER_SIZE } from "../tunnel/h2/frame.ts";
import type { H2Stream, StreamSink } from "../tunnel/h2/stream.ts";
import { closeQuietly, INITIAL_BUFFER, nextBufferSize, type RelayCounts } from "./copy.ts";

/** Called once: `error` is undefined when both halves finished cleanly. */
export type RelayDone = (error: unknown) => void;

export class StreamRelay implements StreamSink {
  #size = INITIAL_BUFFER;
  #buf: Uint8Array = EMPTY;
  /** A read buffer the transport has let go of, for the next read (no allocation, no zero-fill). */
  #spare: Uint8Array | undefined;
  /** The last read was large (a transfer is under way): buffers are worth recycling. */
  #bulk = false;
  /** The piece being written to the socket (what is left of it), and the ones waiting behind it. */
  #out: Uint8Array | undefined;
  #queue: Uint8Array[] | undefined;
  #streamEnded = false;
  #connDone = false;
  #streamDone = false;
  #finished = false;

  constructor(
    readonly conn: Deno.Conn,
    readonly stream: H2Stream,
    readonly counts: RelayCounts,
    readonly done: RelayDone,
  ) {}

  /** Starts both directions. `prefix`: socket bytes already read (sent first). */
  start(prefix?: Uint8Array): void {
    this.stream.attach(this);
    if (prefix && prefix.length) {
      this.counts.fromConn += prefix.length;
      const buf = new Uint8Array(FRAME_HEADER_SIZE + prefix.length);
      buf.set(prefix, FRAME_HEADER_SIZE);
      this.stream.write(buf, prefix.length).then(this.#read, this.#fail);
    } else this.#read();
  }

  // ---- socket → stream ----

  #read = (): void => {
    if (this.#finished) return;
    // TLS may still hold the previous buffer: reuse one only once the transport has flushed it.
    const want = FRAME_HEADER_SIZE + this.#size;
    let buf = this.#spare;
    if (buf !== undefined && buf.length === want) this.#spare = undefined;
    else buf = new Uint8Array(want);
    this.#buf = buf;
    this.conn.read(buf.subarray(FRAME_HEADER_SIZE)).then(this.#onRead, this.#fail);
  };

  #onRead = (n: number | null): void => {
    if (this.#finished) return;
    if (n === null) {
      this.stream.end();
      this.#connDone = true;
      this.#maybeDone();
      return;
    }
    this.counts.fromConn += n;
    this.#size = nextBufferSize(this.#size, n);
    // A short read ends the burst: from then on an idle tunnel keeps no spare buffer.
    this.#bulk = n >= RECYCLE_MIN;
    if (!this.#bulk) this.#spare = undefined;
    const buf = this.#buf;
    this.#buf = EMPTY;
    // Only full-size buffers of a grown relay are worth keeping; small ones are cheap to allocate.
    const recycle = this.#bulk ? () => this.#bulk && (this.#spare = buf) : undefined;
    this.stream.write(buf, n, recycle).then(this.#read, this.#fail);
  };

  // ---- stream → socket (StreamSink) ----

  onData(chunk: Uint8Array): void {
    if (this.#finished) return;
    if (this.#out === undefined) this.#write(chunk);
    else (this.#queue ??= []).push(chunk);
  }

  onEnd(): void {
    this.#streamEnded = true;
    if (this.#out === undefined) this.#closeWrite();
  }

  onError(err: Error): void {
    this.#fail(err);
  }

  #write(chunk: Uint8Array): void {
    this.#out = chunk;
    this.conn.write(chunk).then(this.#onWritten, this.#fail);
  }

  #onWritten = (n: number): void => {
    if (this.#finished) return;
    const out = this.#out!;
    this.counts.fromStream += n;
    this.stream.release(n);
    if (n < out.length) return this.#write(out.subarray(n));
    const next = this.#queue?.shift();
    if (next !== undefined) return this.#write(next);
    this.#out = undefined;
    this.#queue = undefined;
    if (this.#streamEnded) this.#closeWrite();
  };

  #closeWrite(): void {
    if (this.#finished || this.#streamDone) return;
    this.#streamDone = true;
    this.conn.closeWrite().then(this.#maybeDone, this.#fail);
  }

  // ---- the end ----

  #maybeDone = (): void => {
    if (this.#finished || !this.#connDone || !this.#streamDone) return;
    this.#finished = true;
    closeQuietly(this.conn);
    this.done(undefined);
  };

  /** First error wins: the stream is reset, the socket closed, `done(error)` called. */
  #fail = (e: unknown): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#queue = undefined;
    this.stream.reset();
    closeQuietly(this.conn);
    this.done(e);
  };

  /** Tears the relay down now (policy change, drain deadline). */
  abort(reason: Error): void {
    this.#fail(reason);
  }
}

const EMPTY = new Uint8Array(0);
const RECYCLE_MIN = 16 * 1024;
