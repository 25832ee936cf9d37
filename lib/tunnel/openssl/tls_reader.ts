/**
 * The receiving half of an OpenSslSocket: ciphertext read from the conn goes into the read BIO and
 * SSL_read yields plaintext, delivered in fresh buffers or, once the listener opted in, in leased
 * pooled ones for large reads. The peer's close_notify or EOF ends reading.
 */
import type { PullConn } from "../../net/socket_conn.ts";
import { type BufferLease, BufferPool } from "../h2/buffer_lease.ts";
import { SSL_ERROR_WANT_READ, SSL_ERROR_ZERO_RETURN, sslError } from "./openssl_ffi.ts";
import type { SslHandle } from "./ssl_handle.ts";

const READ_BUFFER = 256 * 1024;
/** Plaintext buffers handed to "data" listeners are at least this big (one TLS record). */
const MIN_PLAINTEXT = 16 * 1024;
/** Reads at least this big come from the pool (when enabled); smaller ones end a transfer. */
const POOLED_READ = 64 * 1024;

/** What the reader tells its socket. */
export interface TlsReaderEvents {
  /** Plaintext; a lease, when given, is held only for the call (listeners that keep views retain it). */
  data(chunk: Uint8Array, lease?: BufferLease): void;
  /** True while data cannot reach a listener yet (it is kept, so it must not be in a pooled buffer). */
  buffering(): boolean;
  /** Reading may have produced records to send (e.g. a KeyUpdate response). */
  flush(): void;
  /** The peer's close_notify or EOF: no more data. */
  ended(): void;
  /** Reading or decrypting failed: the socket is done. */
  fail(e: unknown): void;
}

export class TlsReader {
  readonly #h: SslHandle;
  readonly #conn: PullConn;
  readonly #events: TlsReaderEvents;
  readonly #rbuf = new Uint8Array(READ_BUFFER);
  /** Leased plaintext buffers, once a listener opted in (`reuseReceiveBuffers`). */
  #pool: BufferPool | undefined;

  constructor(h: SslHandle, conn: PullConn, events: TlsReaderEvents) {
    this.#h = h;
    this.#conn = conn;
    this.#events = events;
  }

  /**
   * Reads ciphertext from the conn into the read BIO (handshake only; afterwards `run` does it).
   * Null on EOF; nothing is fed when the handle was freed meanwhile (the caller checks).
   */
  async pull(): Promise<number | null> {
    const n = await this.#conn.read(this.#rbuf);
    if (n !== null) this.#h.feed(this.#rbuf, n);
    return n;
  }

  /** The read loop, from the end of the handshake until the peer ends, the handle is freed, or a failure. */
  async run(): Promise<void> {
    try {
      // Plaintext that came with the handshake; after that each decrypt runs until OpenSSL wants input.
      if (!this.#decrypt(0)) return;
      for (;;) {
        const n = await this.#conn.read(this.#rbuf);
        if (this.#h.ssl === null) return;
        if (n === null) return this.#events.ended();
        this.#h.feed(this.#rbuf, n);
        if (!this.#decrypt(n)) return;
      }
    } catch (e) {
      this.#events.fail(e);
    }
  }

  /** Lend plaintext buffers to "data" listeners (with a lease) instead of allocating one per read. */
  reuseReceiveBuffers(): void {
    this.#pool ??= new BufferPool(READ_BUFFER);
  }

  /** How many reads reused a pooled receive buffer (0 when not pooling). */
  get reusedBuffers(): number {
    return this.#pool?.reused ?? 0;
  }

  /**
   * Delivers all plaintext the read BIO holds, each chunk in a fresh buffer (listeners may keep
   * views) or, for large reads once listeners opted in, in a leased pooled one. False when reading
   * is over (peer's close_notify, or we were destroyed meanwhile).
   */
  #decrypt(hint: number): boolean {
    const { ssl } = this.#h.lib;
    const pool = this.#pool;
    const leased = pool !== undefined && hint >= POOLED_READ && !this.#events.buffering();
    if (pool !== undefined && !leased && hint > 0) pool.clear(); // a small read: the burst is over
    let lease = leased ? pool.lease() : undefined;
    let buf = lease ? lease.buf : new Uint8Array(Math.max(hint, MIN_PLAINTEXT));
    let filled = 0;
    for (;;) {
      if (this.#h.ssl === null) return false;
      if (filled === buf.length) {
        this.#deliver(buf, lease);
        if (this.#h.ssl === null) return false;
        lease = undefined;
        buf = new Uint8Array(MIN_PLAINTEXT);
        filled = 0;
      }
      const r = ssl.SSL_read(this.#h.ssl, buf.subarray(filled), buf.length - filled);
      if (r > 0) {
        filled += r;
        continue;
      }
      const err = ssl.SSL_get_error(this.#h.ssl, r);
      if (filled > 0) this.#deliver(buf.subarray(0, filled), lease);
      else lease?.release();
      if (this.#h.ssl === null) return false;
      this.#events.flush();
      if (err === SSL_ERROR_WANT_READ) return true;
      if (err === SSL_ERROR_ZERO_RETURN) {
        this.#events.ended();
        return false;
      }
      throw sslError(this.#h.lib, "TLS read failed");
    }
  }

  /** Emits a chunk; a lease is held only for the callback (listeners that keep views retain it). */
  #deliver(chunk: Uint8Array, lease: BufferLease | undefined): void {
    if (lease === undefined) return this.#events.data(chunk);
    try {
      this.#events.data(chunk, lease);
    } finally {
      lease.release();
    }
  }
}
