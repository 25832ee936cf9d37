/**
 * The few libssl/libcrypto (OpenSSL 3) symbols zt's TLS needs, loaded through Deno FFI by absolute
 * path on first use. Every call is synchronous: each is microseconds of CPU on in-memory buffers.
 * Pointers are only passed around, never read from JS (no UnsafePointerView), so a path-scoped
 * --allow-ffi is enough.
 */
import { ZtError } from "../../error.ts";

/** Where Debian and Ubuntu (x86_64, arm64) keep OpenSSL 3. */
export const OPENSSL_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/aarch64-linux-gnu",
];

const SSL_SYMBOLS = {
  TLS_method: { parameters: [], result: "pointer" },
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_free: { parameters: ["pointer"], result: "void" },
  SSL_CTX_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_CTX_set_options: { parameters: ["pointer", "u64"], result: "u64" },
  SSL_CTX_set_num_tickets: { parameters: ["pointer", "usize"], result: "i32" },
  SSL_CTX_set_ciphersuites: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_use_certificate: { parameters: ["pointer", "pointer"], result: "i32" },
  SSL_CTX_use_PrivateKey: { parameters: ["pointer", "pointer"], result: "i32" },
  SSL_CTX_check_private_key: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_get_cert_store: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "pointer"], result: "void" },
  SSL_CTX_set_alpn_protos: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  SSL_CTX_set_alpn_select_cb: { parameters: ["pointer", "function", "pointer"], result: "void" },
  SSL_select_next_proto: {
    parameters: ["pointer", "pointer", "buffer", "u32", "pointer", "u32"],
    result: "i32",
  },
  SSL_new: { parameters: ["pointer"], result: "pointer" },
  SSL_free: { parameters: ["pointer"], result: "void" },
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" },
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" },
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" },
  SSL_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_shutdown: { parameters: ["pointer"], result: "i32" },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" },
  SSL_get_verify_result: { parameters: ["pointer"], result: "i64" },
  SSL_get1_peer_certificate: { parameters: ["pointer"], result: "pointer" },
  SSL_get0_alpn_selected: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  SSL_get_current_cipher: { parameters: ["pointer"], result: "pointer" },
  SSL_CIPHER_get_id: { parameters: ["pointer"], result: "u32" },
} as const;

const CRYPTO_SYMBOLS = {
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_free: { parameters: ["pointer"], result: "i32" },
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  PEM_read_bio_X509: { parameters: ["pointer", "pointer", "pointer", "pointer"], result: "pointer" },
  PEM_read_bio_PrivateKey: { parameters: ["pointer", "pointer", "pointer", "pointer"], result: "pointer" },
  PEM_write_bio_X509: { parameters: ["pointer", "pointer"], result: "i32" },
  X509_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  X509_STORE_add_cert: { parameters: ["pointer", "pointer"], result: "i32" },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_error_string_n: { parameters: ["u64", "buffer", "usize"], result: "void" },
  ERR_clear_error: { parameters: [], result: "void" },
} as const;

export type SslSymbols = Deno.DynamicLibrary<typeof SSL_SYMBOLS>["symbols"];
export type CryptoSymbols = Deno.DynamicLibrary<typeof CRYPTO_SYMBOLS>["symbols"];

/** The loaded libraries' symbols. */
export interface OpenSsl {
  readonly ssl: SslSymbols;
  readonly crypto: CryptoSymbols;
  /** The directory the libraries came from. */
  readonly dir: string;
}

// Constants from OpenSSL 3's headers.
export const SSL_CTRL_EXTRA_CHAIN_CERT = 14;
export const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
export const SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
export const TLS1_3_VERSION = 0x0304;
export const SSL_VERIFY_PEER = 1;
export const SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2;
export const SSL_OP_NO_TICKET = 1n << 14n;
export const SSL_ERROR_SSL = 1;
export const SSL_ERROR_WANT_READ = 2;
export const SSL_ERROR_WANT_WRITE = 3;
export const SSL_ERROR_SYSCALL = 5;
export const SSL_ERROR_ZERO_RETURN = 6;
export const BIO_CTRL_PENDING = 10;
export const OPENSSL_NPN_NEGOTIATED = 1;
export const SSL_TLSEXT_ERR_OK = 0;
export const SSL_TLSEXT_ERR_ALERT_FATAL = 2;

let loaded: OpenSsl | undefined;
let loadError: ZtError | undefined;

/** The libraries, loaded on first call; throws ZtError("tls") when OpenSSL 3 is not installed. */
export function openSsl(): OpenSsl {
  if (loaded) return loaded;
  if (loadError) throw loadError;
  const tried: string[] = [];
  for (const dir of OPENSSL_DIRS) {
    let sslLib: Deno.DynamicLibrary<typeof SSL_SYMBOLS> | undefined;
    try {
      sslLib = Deno.dlopen(`${dir}/libssl.so.3`, SSL_SYMBOLS);
      const cryptoLib = Deno.dlopen(`${dir}/libcrypto.so.3`, CRYPTO_SYMBOLS);
      loaded = { ssl: sslLib.symbols, crypto: cryptoLib.symbols, dir };
      return loaded;
    } catch (e) {
      sslLib?.close();
      tried.push(`${dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  loadError = new ZtError(
    "tls",
    `OpenSSL 3 (libssl.so.3, libcrypto.so.3) could not be loaded: ${tried.join("; ")}`,
  );
  throw loadError;
}

/** NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** Empties OpenSSL's (per-thread) error queue, returning its entries as text. */
export function drainErrors(lib: OpenSsl): string[] {
  const out: string[] = [];
  const buf = new Uint8Array(256);
  for (;;) {
    const code = lib.crypto.ERR_get_error();
    if (code === 0n) break;
    lib.crypto.ERR_error_string_n(code, buf, BigInt(buf.length));
    const end = buf.indexOf(0);
    out.push(new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end)));
  }
  return out;
}

/** A ZtError("tls") carrying OpenSSL's queued errors (which it clears). */
export function sslError(lib: OpenSsl, what: string): ZtError {
  const errs = drainErrors(lib);
  return new ZtError("tls", errs.length > 0 ? `${what}: ${errs.join("; ")}` : what);
}

/** A memory BIO holding `data` (copied). The caller frees it with BIO_free. */
export function memBioFrom(lib: OpenSsl, data: string | Uint8Array): Deno.PointerValue {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const bio = lib.crypto.BIO_new(lib.crypto.BIO_s_mem());
  if (bio === null) throw sslError(lib, "BIO_new failed");
  if (bytes.length > 0 && lib.crypto.BIO_write(bio, bytes, bytes.length) !== bytes.length) {
    lib.crypto.BIO_free(bio);
    throw sslError(lib, "BIO_write failed");
  }
  return bio;
}

/** Everything pending in a memory BIO (empty when nothing is). */
export function memBioDrain(lib: OpenSsl, bio: Deno.PointerValue): Uint8Array<ArrayBuffer> {
  const n = Number(lib.crypto.BIO_ctrl(bio, BIO_CTRL_PENDING, 0n, null));
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = lib.crypto.BIO_read(bio, out.subarray(got), n - got);
    if (r <= 0) break;
    got += r;
  }
  return got === n ? out : out.slice(0, got);
}
