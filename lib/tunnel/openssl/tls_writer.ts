/**
 * The sending half of an OpenSslSocket: SSL_write encrypts plaintext into the write BIO, and one
 * async writer loop moves the ciphertext to the conn (cork/uncork batch it; a high-water mark gives
 * backpressure and "drain"). `end` sends close_notify after the queued data, then half-closes TCP.
 */
import type { PullConn } from "../../net/socket_conn.ts";
import { sslError } from "./openssl_ffi.ts";
import type { SslHandle } from "./ssl_handle.ts";

const WRITE_CHUNK = 256 * 1024;

/** What the writer tells its socket. */
export interface TlsWriterEvents {
  /** The queued ciphertext went below the high-water mark after write() returned false. */
  drain(): void;
  /** Encrypting or sending failed: the socket is done. */
  fail(e: unknown): void;
  /** close_notify is out and the TCP sending half is closed. */
  writeClosed(): void;
}

export class TlsWriter {
  readonly #h: SslHandle;
  readonly #conn: PullConn;
  readonly #hwm: number;
  readonly #events: TlsWriterEvents;
  readonly #wbuf = new Uint8Array(WRITE_CHUNK);
  #corked = 0;
  #flushScheduled = false;
  #writing = false;
  #inflight = 0;
  #needDrain = false;
  #ending = false;
  #writeClosed = false;

  constructor(h: SslHandle, conn: PullConn, highWaterMark: number, events: TlsWriterEvents) {
    this.#h = h;
    this.#conn = conn;
    this.#hwm = highWaterMark;
    this.#events = events;
  }

  /** The TCP sending half is closed (after close_notify). */
  get writeClosed(): boolean {
    return this.#writeClosed;
  }

  /** Writes all pending ciphertext now (handshake only; afterwards the writer loop does it). */
  async flushNow(): Promise<void> {
    for (;;) {
      const n = this.#h.takeCiphertext(this.#wbuf);
      if (n <= 0) return;
      let off = 0;
      while (off < n) off += await this.#conn.write(this.#wbuf.subarray(off, n));
    }
  }

  /**
   * Encrypts `data` (OpenSSL copies it, so `flushed` follows at once, in a microtask). False once the
   * queued ciphertext passes the high-water mark.
   */
  write(data: Uint8Array, flushed?: () => void): boolean {
    const ssl = this.#h.ssl;
    if (ssl === null || this.#ending) return false;
    if (data.length > 0) {
      const r = this.#h.lib.ssl.SSL_write(ssl, data, data.length);
      if (r <= 0) {
        this.#events.fail(sslError(this.#h.lib, "TLS write failed"));
        return false;
      }
    }
    if (flushed) queueMicrotask(flushed);
    this.scheduleFlush();
    if (this.#queued() < this.#hwm) return true;
    this.#needDrain = true;
    return false;
  }

  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked > 0 && --this.#corked === 0) this.scheduleFlush();
  }

  /** Sends close_notify after the queued data, then half-closes the TCP connection. */
  end(): void {
    const ssl = this.#h.ssl;
    if (this.#ending || ssl === null) return;
    this.#ending = true;
    this.#h.lib.ssl.SSL_shutdown(ssl);
    this.#h.lib.crypto.ERR_clear_error();
    if (this.#writing || this.#flushScheduled) return; // the writer loop finishes the job
    this.#flushScheduled = true;
    queueMicrotask(() => this.#writeLoop());
  }

  /** Starts the writer loop soon (in a microtask) unless it runs, is due, or the writer is corked. */
  scheduleFlush(): void {
    if (this.#flushScheduled || this.#writing || (this.#corked > 0 && !this.#ending)) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#writeLoop());
  }

  /** Ciphertext not yet handed to the kernel. */
  #queued(): number {
    if (this.#h.ssl === null) return 0;
    return this.#h.pendingCiphertext() + this.#inflight;
  }

  /** The single writer: moves ciphertext from the write BIO to the conn until the BIO is empty. */
  async #writeLoop(): Promise<void> {
    this.#flushScheduled = false;
    if (this.#writing || this.#h.ssl === null) return;
    this.#writing = true;
    try {
      for (;;) {
        if (this.#h.ssl === null) return;
        const n = this.#h.takeCiphertext(this.#wbuf);
        if (n <= 0) break;
        this.#inflight = n;
        if (this.#needDrain && this.#queued() - n === 0) {
          // Let the writer refill while this chunk goes out.
          this.#needDrain = false;
          this.#events.drain();
          if (this.#h.ssl === null) return;
        }
        let off = 0;
        while (off < n) off += await this.#conn.write(this.#wbuf.subarray(off, n));
        this.#inflight = 0;
      }
    } catch (e) {
      this.#events.fail(e);
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      this.#events.drain();
    }
    if (this.#ending && !this.#writeClosed && this.#queued() === 0) await this.#closeWrite();
  }

  async #closeWrite(): Promise<void> {
    this.#writeClosed = true;
    try {
      await this.#conn.closeWrite();
    } catch {
      // The peer is gone already: closing below tidies up.
    }
    this.#events.writeClosed();
  }
}
