/**
 * A TLS connection over a PullConn with OpenSSL doing the crypto through two memory BIOs
 * (ssl_handle.ts): ciphertext read from the conn goes into the read BIO, SSL_read yields plaintext
 * (tls_reader.ts); SSL_write puts ciphertext into the write BIO, which one async writer loop moves to
 * the conn (tls_writer.ts). This file is the lifecycle: handshake, peer facts, end and teardown. It
 * has the shape of an `H2Socket` (write/cork/uncork/end/destroy, data/drain/end/close/error events),
 * so an H2Session runs over it as over a node:tls socket.
 */
import type { ConnAddr, PullConn } from "../../net/socket_conn.ts";
import { ZtError } from "../../error.ts";
import type { H2Socket } from "../h2/session.ts";
import type { TlsContext, TlsRole } from "./openssl_context.ts";
import { SSL_ERROR_WANT_READ, sslError } from "./openssl_ffi.ts";
import { readPeerInfo, type TlsPeerInfo, verifyErrorText } from "./openssl_peer.ts";
import { SocketEvents } from "./socket_events.ts";
import { SslHandle } from "./ssl_handle.ts";
import { TlsReader } from "./tls_reader.ts";
import { TlsWriter } from "./tls_writer.ts";

export interface OpenSslSocketOptions {
  /** Queued ciphertext above which write() returns false (then "drain" follows). Default 1 MiB. */
  readonly highWaterMark?: number;
  /** Keep our sending half open after the peer ends (default false: end too, as node:net does). */
  readonly allowHalfOpen?: boolean;
}

export class OpenSslSocket extends SocketEvents implements H2Socket {
  readonly #conn: PullConn;
  readonly #h: SslHandle;
  readonly #reader: TlsReader;
  readonly #writer: TlsWriter;
  readonly #allowHalfOpen: boolean;
  #peer: TlsPeerInfo | undefined;
  #readEnded = false;
  #closed = false;

  private constructor(conn: PullConn, ctx: TlsContext, role: TlsRole, opts: OpenSslSocketOptions) {
    super();
    this.#conn = conn;
    this.#allowHalfOpen = opts.allowHalfOpen ?? false;
    this.#h = new SslHandle(ctx, role);
    const fail = (e: unknown) => this.#fail(e);
    this.#reader = new TlsReader(this.#h, conn, {
      data: (chunk, lease) => this.emit("data", chunk, lease),
      buffering: () => this.buffering,
      flush: () => this.#writer.scheduleFlush(),
      ended: () => this.#peerEnded(),
      fail,
    });
    this.#writer = new TlsWriter(this.#h, conn, opts.highWaterMark ?? 1024 * 1024, {
      drain: () => this.emit("drain"),
      fail,
      writeClosed: () => this.#maybeClose(),
    });
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
    sock.#reader.run();
    return sock;
  }

  async #handshake(): Promise<void> {
    const { ssl } = this.#h.lib;
    for (;;) {
      const r = ssl.SSL_do_handshake(this.#h.ssl);
      // Flush first even on failure: the alert telling the peer why goes out with it.
      const err = r === 1 ? 0 : ssl.SSL_get_error(this.#h.ssl, r);
      const failure = r === 1 || err === SSL_ERROR_WANT_READ ? undefined : this.#handshakeError();
      try {
        await this.#writer.flushNow();
      } catch (e) {
        throw failure ?? e;
      }
      if (failure) throw failure;
      if (r === 1) break;
      const n = await this.#reader.pull();
      if (this.#h.ssl === null) throw new ZtError("tls", "TLS handshake aborted");
      if (n === null) throw new ZtError("tls", "connection closed during the TLS handshake");
    }
    this.#peer = readPeerInfo(this.#h.lib, this.#h.ssl);
  }

  #handshakeError(): ZtError {
    const verify = Number(this.#h.lib.ssl.SSL_get_verify_result(this.#h.ssl));
    const e = sslError(this.#h.lib, "TLS handshake failed");
    return verify === 0 ? e : new ZtError("tls", `${e.message} (${verifyErrorText(verify)})`);
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

  /** Lend plaintext buffers to "data" listeners (with a lease) instead of allocating one per read. */
  reuseReceiveBuffers(): void {
    this.#reader.reuseReceiveBuffers();
  }

  /** How many reads reused a pooled receive buffer (0 when not pooling). */
  get reusedBuffers(): number {
    return this.#reader.reusedBuffers;
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
    return this.#writer.write(data, flushed);
  }

  cork(): void {
    this.#writer.cork();
  }

  uncork(): void {
    this.#writer.uncork();
  }

  /** Sends close_notify after the queued data, then half-closes the TCP connection. */
  end(): void {
    this.#writer.end();
  }

  #maybeClose(): void {
    if (this.#readEnded && this.#writer.writeClosed) this.#finish(undefined);
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
    this.#h.free();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
