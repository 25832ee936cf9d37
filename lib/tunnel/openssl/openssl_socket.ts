/**
 * A TLS connection over a PullConn with OpenSSL doing the crypto through two memory BIOs:
 * ciphertext read from the conn goes into the read BIO, SSL_read yields plaintext; SSL_write puts
 * ciphertext into the write BIO, which one async writer loop moves to the conn. It has the shape of
 * an `H2Socket` (write/cork/uncork/end/destroy, data/drain/end/close/error events), so an H2Session
 * runs over it as over a node:tls socket.
 */
import type { ConnAddr, PullConn } from "../../net/socket_conn.ts";
import { ZtError } from "../../error.ts";
import type { H2Socket } from "../h2/session.ts";
import type { TlsContext, TlsRole } from "./openssl_context.ts";
import {
  BIO_CTRL_PENDING,
  type OpenSsl,
  SSL_ERROR_WANT_READ,
  SSL_ERROR_ZERO_RETURN,
  sslError,
} from "./openssl_ffi.ts";
import { readPeerInfo, type TlsPeerInfo, verifyErrorText } from "./openssl_peer.ts";
import { SocketEvents } from "./socket_events.ts";
import { type BufferLease, BufferPool } from "../h2/buffer_lease.ts";

export interface OpenSslSocketOptions {
  /** Queued ciphertext above which write() returns false (then "drain" follows). Default 1 MiB. */
  readonly highWaterMark?: number;
  /** Keep our sending half open after the peer ends (default false: end too, as node:net does). */
  readonly allowHalfOpen?: boolean;
}

const READ_BUFFER = 256 * 1024;
const WRITE_CHUNK = 256 * 1024;
/** Plaintext buffers handed to "data" listeners are at least this big (one TLS record). */
const MIN_PLAINTEXT = 16 * 1024;
/** Reads at least this big come from the pool (when enabled); smaller ones end a transfer. */
const POOLED_READ = 64 * 1024;

export class OpenSslSocket extends SocketEvents implements H2Socket {
  readonly #conn: PullConn;
  readonly #lib: OpenSsl;
  #ssl: Deno.PointerValue;
  readonly #rbio: Deno.PointerValue;
  readonly #wbio: Deno.PointerValue;
  readonly #hwm: number;
  readonly #allowHalfOpen: boolean;
  readonly #rbuf = new Uint8Array(READ_BUFFER);
  readonly #wbuf = new Uint8Array(WRITE_CHUNK);
  #peer: TlsPeerInfo | undefined;
  /** Leased plaintext buffers, once a listener opted in (`reuseReceiveBuffers`). */
  #pool: BufferPool | undefined;
  #corked = 0;
  #flushScheduled = false;
  #writing = false;
  #inflight = 0;
  #needDrain = false;
  #ending = false;
  #writeClosed = false;
  #readEnded = false;
  #closed = false;

  private constructor(conn: PullConn, ctx: TlsContext, role: TlsRole, opts: OpenSslSocketOptions) {
    super();
    this.#conn = conn;
    this.#lib = ctx.lib;
    this.#hwm = opts.highWaterMark ?? 1024 * 1024;
    this.#allowHalfOpen = opts.allowHalfOpen ?? false;
    const { ssl, crypto } = this.#lib;
    this.#ssl = ctx.newSsl();
    this.#rbio = crypto.BIO_new(crypto.BIO_s_mem());
    this.#wbio = crypto.BIO_new(crypto.BIO_s_mem());
    if (this.#rbio === null || this.#wbio === null) {
      if (this.#rbio !== null) crypto.BIO_free(this.#rbio);
      if (this.#wbio !== null) crypto.BIO_free(this.#wbio);
      ssl.SSL_free(this.#ssl);
      this.#ssl = null;
      throw sslError(this.#lib, "BIO_new failed");
    }
    ssl.SSL_set_bio(this.#ssl, this.#rbio, this.#wbio); // the SSL owns both BIOs from here
    if (role === "client") ssl.SSL_set_connect_state(this.#ssl);
    else ssl.SSL_set_accept_state(this.#ssl);
  }

  /**
   * Runs the TLS handshake on `conn` and returns the established socket. On failure (bad peer
   * certificate, timeout, EOF) the conn is closed, native memory freed, and a ZtError("tls") thrown.
   * The handshake succeeding means the peer's chain verified against the mesh roots (and, on the
   * server, that the client sent one); identity checks (SPIFFE SANs) are the caller's.
   */
  static async connect(
    conn: PullConn,
    ctx: TlsContext,
    role: TlsRole,
    timeoutMs: number,
    opts: OpenSslSocketOptions = {},
  ): Promise<OpenSslSocket> {
    if (ctx.role !== role) throw new ZtError("tls", `a ${ctx.role} TLS context cannot ${role} a connection`);
    let sock: OpenSslSocket;
    try {
      sock = new OpenSslSocket(conn, ctx, role, opts);
    } catch (e) {
      conn.close();
      throw e;
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      sock.#destroyQuietly();
    }, timeoutMs);
    try {
      await sock.#handshake();
    } catch (e) {
      sock.#destroyQuietly();
      if (timedOut) throw new ZtError("tls", `TLS handshake timed out after ${timeoutMs} ms`);
      if (e instanceof ZtError) throw e;
      throw new ZtError("tls", `TLS handshake failed: ${e instanceof Error ? e.message : e}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    sock.#readLoop();
    return sock;
  }

  async #handshake(): Promise<void> {
    const { ssl } = this.#lib;
    for (;;) {
      const r = ssl.SSL_do_handshake(this.#ssl);
      // Flush first even on failure: the alert telling the peer why goes out with it.
      const err = r === 1 ? 0 : ssl.SSL_get_error(this.#ssl, r);
      const failure = r === 1 || err === SSL_ERROR_WANT_READ ? undefined : this.#handshakeError();
      try {
        await this.#flushNow();
      } catch (e) {
        throw failure ?? e;
      }
      if (failure) throw failure;
      if (r === 1) break;
      const n = await this.#conn.read(this.#rbuf);
      if (this.#ssl === null) throw new ZtError("tls", "TLS handshake aborted");
      if (n === null) throw new ZtError("tls", "connection closed during the TLS handshake");
      this.#lib.crypto.BIO_write(this.#rbio, this.#rbuf.subarray(0, n), n);
    }
    this.#peer = readPeerInfo(this.#lib, this.#ssl);
  }

  #handshakeError(): ZtError {
    const verify = Number(this.#lib.ssl.SSL_get_verify_result(this.#ssl));
    const e = sslError(this.#lib, "TLS handshake failed");
    return verify === 0 ? e : new ZtError("tls", `${e.message} (${verifyErrorText(verify)})`);
  }

  /** Writes all pending ciphertext now (handshake only; afterwards the writer loop does it). */
  async #flushNow(): Promise<void> {
    for (;;) {
      const n = this.#lib.crypto.BIO_read(this.#wbio, this.#wbuf, this.#wbuf.length);
      if (n <= 0) return;
      let off = 0;
      while (off < n) off += await this.#conn.write(this.#wbuf.subarray(off, n));
    }
  }

  // ---- peer facts ----

  /** Peer verified against the mesh roots, with a certificate. */
  get authorized(): boolean {
    return this.#peer?.authorized ?? false;
  }
  get authorizationError(): string | undefined {
    return this.#peer?.authorizationError;
  }
  /** Everything the handshake told about the peer. */
  get peer(): TlsPeerInfo | undefined {
    return this.#peer;
  }
  peerCertificatePem(): string | undefined {
    return this.#peer?.certificatePem;
  }
  get alpnProtocol(): string | undefined {
    return this.#peer?.alpnProtocol;
  }
  get localAddr(): ConnAddr {
    return this.#conn.localAddr;
  }
  get remoteAddr(): ConnAddr {
    return this.#conn.remoteAddr;
  }
  setNoDelay(noDelay = true): void {
    if (!this.#closed) this.#conn.setNoDelay(noDelay);
  }
  get isClosed(): boolean {
    return this.#closed;
  }

  // ---- reading ----

  async #readLoop(): Promise<void> {
    try {
      // Plaintext that came with the handshake; after that each decrypt runs until OpenSSL wants input.
      if (!this.#decrypt(0)) return;
      for (;;) {
        const n = await this.#conn.read(this.#rbuf);
        if (this.#ssl === null) return;
        if (n === null) return this.#peerEnded();
        this.#lib.crypto.BIO_write(this.#rbio, this.#rbuf.subarray(0, n), n);
        if (!this.#decrypt(n)) return;
      }
    } catch (e) {
      this.#fail(e);
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
    const { ssl } = this.#lib;
    const pool = this.#pool;
    const leased = pool !== undefined && hint >= POOLED_READ && !this.buffering;
    if (pool !== undefined && !leased && hint > 0) pool.clear(); // a small read: the burst is over
    let lease = leased ? pool.lease() : undefined;
    let buf = lease ? lease.buf : new Uint8Array(Math.max(hint, MIN_PLAINTEXT));
    let filled = 0;
    for (;;) {
      if (this.#ssl === null) return false;
      if (filled === buf.length) {
        this.#deliver(buf, lease);
        if (this.#ssl === null) return false;
        lease = undefined;
        buf = new Uint8Array(MIN_PLAINTEXT);
        filled = 0;
      }
      const r = ssl.SSL_read(this.#ssl, buf.subarray(filled), buf.length - filled);
      if (r > 0) {
        filled += r;
        continue;
      }
      const err = ssl.SSL_get_error(this.#ssl, r);
      if (filled > 0) this.#deliver(buf.subarray(0, filled), lease);
      else lease?.release();
      if (this.#ssl === null) return false;
      // Reading may have produced records to send (e.g. a KeyUpdate response).
      this.#scheduleFlush();
      if (err === SSL_ERROR_WANT_READ) return true;
      if (err === SSL_ERROR_ZERO_RETURN) {
        this.#peerEnded();
        return false;
      }
      throw sslError(this.#lib, "TLS read failed");
    }
  }

  /** Emits a chunk; a lease is held only for the callback (listeners that keep views retain it). */
  #deliver(chunk: Uint8Array, lease: BufferLease | undefined): void {
    if (lease === undefined) return this.emit("data", chunk);
    try {
      this.emit("data", chunk, lease);
    } finally {
      lease.release();
    }
  }

  #peerEnded(): void {
    if (this.#readEnded || this.#closed) return;
    this.#readEnded = true;
    this.emit("end");
    if (!this.#allowHalfOpen) this.end();
    this.#maybeClose();
  }

  // ---- writing ----

  /**
   * Encrypts `data` (OpenSSL copies it, so `flushed` follows at once, in a microtask). False once the
   * queued ciphertext passes the high-water mark.
   */
  write(data: Uint8Array, flushed?: () => void): boolean {
    if (this.#ssl === null || this.#ending) return false;
    if (data.length > 0) {
      const r = this.#lib.ssl.SSL_write(this.#ssl, data, data.length);
      if (r <= 0) {
        this.#fail(sslError(this.#lib, "TLS write failed"));
        return false;
      }
    }
    if (flushed) queueMicrotask(flushed);
    this.#scheduleFlush();
    if (this.#queued() < this.#hwm) return true;
    this.#needDrain = true;
    return false;
  }

  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked > 0 && --this.#corked === 0) this.#scheduleFlush();
  }

  /** Ciphertext not yet handed to the kernel. */
  #queued(): number {
    if (this.#ssl === null) return 0;
    return Number(this.#lib.crypto.BIO_ctrl(this.#wbio, BIO_CTRL_PENDING, 0n, null)) + this.#inflight;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#writing || (this.#corked > 0 && !this.#ending)) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#writeLoop());
  }

  /** The single writer: moves ciphertext from the write BIO to the conn until the BIO is empty. */
  async #writeLoop(): Promise<void> {
    this.#flushScheduled = false;
    if (this.#writing || this.#ssl === null) return;
    this.#writing = true;
    try {
      for (;;) {
        if (this.#ssl === null) return;
        const n = this.#lib.crypto.BIO_read(this.#wbio, this.#wbuf, this.#wbuf.length);
        if (n <= 0) break;
        this.#inflight = n;
        if (this.#needDrain && this.#queued() - n === 0) {
          // Let the writer refill while this chunk goes out.
          this.#needDrain = false;
          this.emit("drain");
          if (this.#ssl === null) return;
        }
        let off = 0;
        while (off < n) off += await this.#conn.write(this.#wbuf.subarray(off, n));
        this.#inflight = 0;
      }
    } catch (e) {
      this.#fail(e);
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      this.emit("drain");
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
    this.#maybeClose();
  }

  /** Sends close_notify after the queued data, then half-closes the TCP connection. */
  end(): void {
    if (this.#ending || this.#ssl === null) return;
    this.#ending = true;
    this.#lib.ssl.SSL_shutdown(this.#ssl);
    this.#lib.crypto.ERR_clear_error();
    if (this.#writing || this.#flushScheduled) return; // the writer loop finishes the job
    this.#flushScheduled = true;
    queueMicrotask(() => this.#writeLoop());
  }

  #maybeClose(): void {
    if (this.#readEnded && this.#writeClosed) this.#finish(undefined);
  }

  // ---- teardown ----

  /** Closes now: pending ciphertext is dropped. With `err`, "error" is emitted before "close". */
  destroy(err?: Error): void {
    this.#finish(err);
  }

  #destroyQuietly(): void {
    this.#release();
    this.#closed = true;
  }

  #fail(e: unknown): void {
    if (this.#closed) return;
    const err = e instanceof Error ? e : new ZtError("tls", String(e));
    this.#finish(err);
  }

  #finish(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    if (err) this.emit("error", err);
    this.emit("close");
  }

  /** Frees the SSL object (and with it both BIOs) exactly once, and closes the conn. */
  #release(): void {
    if (this.#ssl !== null) {
      const ssl = this.#ssl;
      this.#ssl = null;
      this.#lib.ssl.SSL_free(ssl);
      this.#lib.crypto.ERR_clear_error();
    }
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
