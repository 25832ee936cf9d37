/**
 * An OpenSSL SSL_CTX configured for HBONE from a WorkloadCertificate, entirely in memory: TLS 1.3
 * only, ztunnel's two suites, ALPN h2, the workload's key and chain, the mesh roots as the only trust
 * anchors, and peer certificates required (server) / verified (client). No session tickets.
 */
import { ZtError } from "../../error.ts";
import type { WorkloadCertificate } from "../../identity/certificate.ts";
import { HBONE_CIPHERS } from "../tls.ts";
import {
  cString,
  memBioFrom,
  type OpenSsl,
  openSsl,
  OPENSSL_NPN_NEGOTIATED,
  SSL_CTRL_EXTRA_CHAIN_CERT,
  SSL_CTRL_SET_MAX_PROTO_VERSION,
  SSL_CTRL_SET_MIN_PROTO_VERSION,
  SSL_OP_NO_TICKET,
  SSL_TLSEXT_ERR_ALERT_FATAL,
  SSL_TLSEXT_ERR_OK,
  SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
  SSL_VERIFY_PEER,
  sslError,
  TLS1_3_VERSION,
} from "./openssl_ffi.ts";

export type TlsRole = "client" | "server";

/** ALPN wire format for ["h2"]. */
const ALPN_H2 = new Uint8Array([2, 0x68, 0x32]);

const ALPN_SELECT_DEFINITION = {
  // int cb(SSL *s, const unsigned char **out, unsigned char *outlen,
  //        const unsigned char *in, unsigned int inlen, void *arg)
  parameters: ["pointer", "pointer", "pointer", "pointer", "u32", "pointer"],
  result: "i32",
} as const;

/** Reads every PEM certificate in `pem` (X509* each; the caller frees them). */
function readCertificates(lib: OpenSsl, pem: string): Deno.PointerValue[] {
  const bio = memBioFrom(lib, pem);
  const out: Deno.PointerValue[] = [];
  try {
    for (;;) {
      const x = lib.crypto.PEM_read_bio_X509(bio, null, null, null);
      if (x === null) break;
      out.push(x);
    }
    // The loop ends on "no start line" once the BIO is exhausted: that error is expected.
    lib.crypto.ERR_clear_error();
  } finally {
    lib.crypto.BIO_free(bio);
  }
  return out;
}

/**
 * The server's ALPN choice as a native callback that asks OpenSSL's own SSL_select_next_proto to
 * match our ["h2"] against the client's list, so no native memory is read from JS. Deno allows
 * UnsafeCallback only with an unscoped --allow-ffi: under a path-scoped grant this is undefined.
 */
function alpnSelectCallback(lib: OpenSsl): Deno.UnsafeCallback<typeof ALPN_SELECT_DEFINITION> | undefined {
  const server = ALPN_H2;
  try {
    return new Deno.UnsafeCallback(
      ALPN_SELECT_DEFINITION,
      (_ssl, out, outlen, inp, inlen) =>
        // OpenSSL points `out` into one of the lists and copies the selection before going on, so
        // `server` need only live during this call.
        lib.ssl.SSL_select_next_proto(out, outlen, server, server.length, inp, inlen) ===
            OPENSSL_NPN_NEGOTIATED
          ? SSL_TLSEXT_ERR_OK
          : SSL_TLSEXT_ERR_ALERT_FATAL,
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) return undefined;
    throw e;
  }
}

/** One side's TLS configuration; SSL objects for connections come from `newSsl()`. */
export class TlsContext {
  readonly #lib: OpenSsl;
  #ctx: Deno.PointerValue;
  #alpnSelect: Deno.UnsafeCallback<typeof ALPN_SELECT_DEFINITION> | undefined;

  private constructor(lib: OpenSsl, ctx: Deno.PointerValue, readonly role: TlsRole) {
    this.#lib = lib;
    this.#ctx = ctx;
  }

  /** Builds the context; throws ZtError("tls") on bad key material or a missing OpenSSL. */
  static create(cert: WorkloadCertificate, role: TlsRole): TlsContext {
    const lib = openSsl();
    const S = lib.ssl;
    const ctx = S.SSL_CTX_new(S.TLS_method());
    if (ctx === null) throw sslError(lib, "SSL_CTX_new failed");
    const tc = new TlsContext(lib, ctx, role);
    try {
      tc.#configure(cert);
    } catch (e) {
      tc.close();
      throw e;
    }
    return tc;
  }

  #configure(cert: WorkloadCertificate): void {
    const lib = this.#lib;
    const S = lib.ssl;
    const C = lib.crypto;
    const ctx = this.#ctx;
    const check = (ok: boolean, what: string) => {
      if (!ok) throw sslError(lib, what);
    };
    check(S.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, BigInt(TLS1_3_VERSION), null) === 1n, "min");
    check(S.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, BigInt(TLS1_3_VERSION), null) === 1n, "max");
    check(S.SSL_CTX_set_ciphersuites(ctx, cString(HBONE_CIPHERS)) === 1, "SSL_CTX_set_ciphersuites");
    S.SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    S.SSL_CTX_set_num_tickets(ctx, 0n);

    // Leaf, then intermediates as extra chain certificates.
    const chain = readCertificates(lib, cert.certChainPem.join("\n"));
    if (chain.length === 0) throw new ZtError("tls", "workload certificate chain has no certificate");
    const ok = S.SSL_CTX_use_certificate(ctx, chain[0]) === 1; // takes its own reference
    C.X509_free(chain[0]);
    if (!ok) {
      for (const x of chain.slice(1)) C.X509_free(x);
      throw sslError(lib, "SSL_CTX_use_certificate failed");
    }
    for (let i = 1; i < chain.length; i++) {
      // SSL_CTX_add_extra_chain_cert takes ownership on success.
      if (S.SSL_CTX_ctrl(ctx, SSL_CTRL_EXTRA_CHAIN_CERT, 0n, chain[i]) !== 1n) {
        for (const x of chain.slice(i)) C.X509_free(x);
        throw sslError(lib, "adding an intermediate certificate failed");
      }
    }

    const keyBio = memBioFrom(lib, cert.keyPem);
    const key = C.PEM_read_bio_PrivateKey(keyBio, null, null, null);
    C.BIO_free(keyBio);
    if (key === null) throw sslError(lib, "reading the private key failed");
    const keyOk = S.SSL_CTX_use_PrivateKey(ctx, key) === 1; // takes its own reference
    C.EVP_PKEY_free(key);
    check(keyOk, "SSL_CTX_use_PrivateKey failed");
    check(S.SSL_CTX_check_private_key(ctx) === 1, "private key does not match the certificate");

    // The mesh roots are the only trust anchors (no system store).
    const store = S.SSL_CTX_get_cert_store(ctx);
    const roots = readCertificates(lib, cert.rootsPem.join("\n"));
    if (roots.length === 0) throw new ZtError("tls", "workload certificate has no trust roots");
    let rootsOk = true;
    for (const r of roots) {
      if (C.X509_STORE_add_cert(store, r) !== 1) rootsOk = false; // takes its own reference
      C.X509_free(r);
    }
    check(rootsOk, "adding a trust root failed");

    if (this.role === "server") {
      S.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, null);
      this.#alpnSelect = alpnSelectCallback(lib);
      // Without the callback (FFI scoped to library paths) the server answers no ALPN: the
      // handshake still succeeds and both ends speak h2 by prior knowledge.
      if (this.#alpnSelect) S.SSL_CTX_set_alpn_select_cb(ctx, this.#alpnSelect.pointer, null);
    } else {
      S.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, null);
      // Unlike most of OpenSSL, this one returns 0 on success.
      check(S.SSL_CTX_set_alpn_protos(ctx, ALPN_H2, ALPN_H2.length) === 0, "SSL_CTX_set_alpn_protos");
    }
  }

  /** Server: whether it selects ALPN h2 (false when FFI callbacks are not permitted). */
  get selectsAlpn(): boolean {
    return this.#alpnSelect !== undefined;
  }

  /** The loaded OpenSSL. */
  get lib(): OpenSsl {
    return this.#lib;
  }

  get isClosed(): boolean {
    return this.#ctx === null;
  }

  /** A new SSL object (the caller owns it: SSL_free). SSL objects keep the context alive. */
  newSsl(): NonNullable<Deno.PointerValue> {
    if (this.#ctx === null) throw new ZtError("tls", "TLS context is closed");
    const ssl = this.#lib.ssl.SSL_new(this.#ctx);
    if (ssl === null) throw sslError(this.#lib, "SSL_new failed");
    return ssl;
  }

  /**
   * Releases our reference to the SSL_CTX. Live SSL objects hold their own, but a server context's
   * ALPN callback dies here: close a server context only after its connections' handshakes.
   */
  close(): void {
    if (this.#ctx === null) return;
    this.#lib.ssl.SSL_CTX_free(this.#ctx);
    this.#ctx = null;
    this.#alpnSelect?.close();
    this.#alpnSelect = undefined;
  }
}
