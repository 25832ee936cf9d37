/**
 * One connection's native TLS state: an OpenSSL SSL object with two memory BIOs (ciphertext from the
 * peer goes into the read BIO, ciphertext for the peer comes out of the write BIO), freed exactly once.
 */
import type { TlsContext, TlsRole } from "./openssl_context.ts";
import { BIO_CTRL_PENDING, type OpenSsl, sslError } from "./openssl_ffi.ts";

export class SslHandle {
  readonly lib: OpenSsl;
  #ssl: Deno.PointerValue;
  readonly #rbio: Deno.PointerValue;
  readonly #wbio: Deno.PointerValue;

  /** A fresh SSL object from `ctx`, connecting or accepting per `role`; throws ZtError("tls") when out of memory. */
  constructor(ctx: TlsContext, role: TlsRole) {
    this.lib = ctx.lib;
    const { ssl, crypto } = this.lib;
    this.#ssl = ctx.newSsl();
    this.#rbio = crypto.BIO_new(crypto.BIO_s_mem());
    this.#wbio = crypto.BIO_new(crypto.BIO_s_mem());
    if (this.#rbio === null || this.#wbio === null) {
      if (this.#rbio !== null) crypto.BIO_free(this.#rbio);
      if (this.#wbio !== null) crypto.BIO_free(this.#wbio);
      ssl.SSL_free(this.#ssl);
      this.#ssl = null;
      throw sslError(this.lib, "BIO_new failed");
    }
    ssl.SSL_set_bio(this.#ssl, this.#rbio, this.#wbio); // the SSL owns both BIOs from here
    if (role === "client") ssl.SSL_set_connect_state(this.#ssl);
    else ssl.SSL_set_accept_state(this.#ssl);
  }

  /** The SSL object for SSL_* calls; null once freed (check after every await). */
  get ssl(): Deno.PointerValue {
    return this.#ssl;
  }

  /** Hands `n` bytes of the peer's ciphertext to OpenSSL (nothing once freed). */
  feed(buf: Uint8Array, n: number): void {
    if (this.#ssl === null) return;
    this.lib.crypto.BIO_write(this.#rbio, buf.subarray(0, n), n);
  }

  /** Moves ciphertext for the peer into `buf`; the byte count, ≤ 0 when there is none (or once freed). */
  takeCiphertext(buf: Uint8Array): number {
    if (this.#ssl === null) return 0;
    return this.lib.crypto.BIO_read(this.#wbio, buf, buf.length);
  }

  /** Ciphertext waiting in the write BIO (0 once freed). */
  pendingCiphertext(): number {
    if (this.#ssl === null) return 0;
    return Number(this.lib.crypto.BIO_ctrl(this.#wbio, BIO_CTRL_PENDING, 0n, null));
  }

  /** Frees the SSL object (and with it both BIOs); later calls do nothing. */
  free(): void {
    if (this.#ssl === null) return;
    const ssl = this.#ssl;
    this.#ssl = null;
    this.lib.ssl.SSL_free(ssl);
    this.lib.crypto.ERR_clear_error();
  }
}
