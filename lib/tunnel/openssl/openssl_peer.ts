/**
 * What a finished OpenSSL handshake tells about the peer, read once while the SSL object is alive:
 * verification result, the peer's certificate (PEM), ALPN and cipher suite. None of it needs
 * reading native memory from JS: OpenSSL writes into buffers we pass.
 */
import { parseCertInfo } from "../../identity/certificate.ts";
import { memBioDrain, type OpenSsl, sslError } from "./openssl_ffi.ts";

/** Facts about the peer after a successful handshake. */
export interface TlsPeerInfo {
  /** Chain verified against the mesh roots and a certificate presented. */
  readonly authorized: boolean;
  /** Why not authorized, in OpenSSL's words (a few common codes spelled out). */
  readonly authorizationError: string | undefined;
  /** The peer's leaf certificate, PEM, or undefined when it sent none. */
  readonly certificatePem: string | undefined;
  /** "h2" or undefined (zt only ever offers and selects h2). */
  readonly alpnProtocol: string | undefined;
  /** The negotiated TLS 1.3 suite, e.g. "TLS_AES_256_GCM_SHA384". */
  readonly cipher: string;
}

const VERIFY_ERRORS: Record<number, string> = {
  2: "unable to get issuer certificate",
  7: "certificate signature failure",
  9: "certificate is not yet valid",
  10: "certificate has expired",
  18: "self-signed certificate",
  19: "self-signed certificate in certificate chain",
  20: "unable to get local issuer certificate",
  21: "unable to verify the first certificate",
  24: "invalid CA certificate",
  26: "unsupported certificate purpose",
};

const CIPHERS: Record<number, string> = {
  0x1301: "TLS_AES_128_GCM_SHA256",
  0x1302: "TLS_AES_256_GCM_SHA384",
  0x1303: "TLS_CHACHA20_POLY1305_SHA256",
};

/** X509_V_ERR_* code as text. */
export function verifyErrorText(code: number): string {
  return VERIFY_ERRORS[code] ?? `certificate verify error ${code}`;
}

/** The peer's certificate as PEM (undefined when none), via PEM_write_bio_X509 into a memory BIO. */
function peerCertificatePem(lib: OpenSsl, ssl: Deno.PointerValue): string | undefined {
  const x = lib.ssl.SSL_get1_peer_certificate(ssl);
  if (x === null) return undefined;
  const bio = lib.crypto.BIO_new(lib.crypto.BIO_s_mem());
  try {
    if (bio === null || lib.crypto.PEM_write_bio_X509(bio, x) !== 1) {
      throw sslError(lib, "writing the peer certificate failed");
    }
    return new TextDecoder().decode(memBioDrain(lib, bio));
  } finally {
    if (bio !== null) lib.crypto.BIO_free(bio);
    lib.crypto.X509_free(x);
  }
}

/** Reads the peer facts from a handshaken SSL object. */
export function readPeerInfo(lib: OpenSsl, ssl: Deno.PointerValue): TlsPeerInfo {
  const certificatePem = peerCertificatePem(lib, ssl);
  const verify = Number(lib.ssl.SSL_get_verify_result(ssl));
  const authorized = verify === 0 && certificatePem !== undefined;
  const authorizationError = authorized
    ? undefined
    : certificatePem === undefined
    ? "peer sent no certificate"
    : verifyErrorText(verify);
  // SSL_get0_alpn_selected(ssl, &data, &len): we only need len, as h2 is the only protocol in play.
  const dataPtr = new Uint8Array(8);
  const len = new Uint32Array(1);
  lib.ssl.SSL_get0_alpn_selected(ssl, dataPtr, new Uint8Array(len.buffer));
  const alpnProtocol = len[0] === 2 ? "h2" : undefined;
  const cipherPtr = lib.ssl.SSL_get_current_cipher(ssl);
  const id = cipherPtr === null ? 0 : lib.ssl.SSL_CIPHER_get_id(cipherPtr) & 0xffff;
  const cipher = CIPHERS[id] ?? `0x${id.toString(16)}`;
  return { authorized, authorizationError, certificatePem, alpnProtocol, cipher };
}

/** The URI SANs (SPIFFE identities) of a peer certificate, in certificate order. */
export function peerUriSans(info: TlsPeerInfo): string[] {
  return info.certificatePem === undefined ? [] : parseCertInfo(info.certificatePem).identities;
}
