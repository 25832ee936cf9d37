/**
 * Builds DER X.509 v3 certificates (RFC 5280) and PKCS#10 requests (RFC 2986) from parts: Names and
 * SPKIs are taken as DER bytes, extensions come from x509_extensions.ts, signing from x509_signature.ts.
 */
import * as der from "./der.ts";
import { OID } from "./x509_extensions.ts";
import { algorithmIdentifier, type Signer, signStructure } from "./x509_signature.ts";

/** What goes into a certificate. */
export interface CertificateTemplate {
  /** Unsigned big-endian magnitude; default 128 random bits ({@link randomSerial}). */
  serial?: Uint8Array;
  /** DER Name, copied verbatim (for a leaf: the CA certificate's subject bytes). */
  issuer: Uint8Array;
  /** DER Name; {@link EMPTY_NAME} for workload leaves. */
  subject: Uint8Array;
  /** Encoded at seconds precision (milliseconds are dropped). */
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo (WebCrypto's `exportKey("spki")`). */
  spki: Uint8Array;
  /** DER Extensions, in order. */
  extensions: Uint8Array[];
}

/** The empty Name (`SEQUENCE {}`), as workload leaves and ztunnel's CSRs carry. */
export const EMPTY_NAME: Uint8Array = der.seq();

/** A Name of single-valued RDNs, e.g. `[[OID.organizationName, "cluster.local"], [OID.commonName, "x"]]`. */
export function name(rdns: [oid: string, value: string][]): Uint8Array {
  return der.seq(...rdns.map(([o, v]) => der.set(der.seq(der.oid(o), der.dirString(v)))));
}

/** A random, non-zero serial of `bytes` bytes (encoded as a positive INTEGER by the builder). */
export function randomSerial(bytes = 16): Uint8Array {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  if (b.every((x) => x === 0)) b[bytes - 1] = 1;
  return b;
}

/** The DER TBSCertificate of a template signed with `signer`'s scheme. */
export function tbsCertificate(t: CertificateTemplate, signer: Signer): Uint8Array<ArrayBuffer> {
  return der.seq(
    der.explicit(0, der.smallInt(2)), // v3
    der.uint(t.serial ?? randomSerial()),
    algorithmIdentifier(signer.scheme),
    t.issuer,
    der.seq(der.time(t.notBefore), der.time(t.notAfter)),
    t.subject,
    t.spki,
    ...(t.extensions.length ? [der.explicit(3, der.seq(...t.extensions))] : []),
  );
}

/** Builds and signs a certificate; returns its DER. */
export function buildCertificate(t: CertificateTemplate, signer: Signer): Promise<Uint8Array<ArrayBuffer>> {
  return signStructure(tbsCertificate(t, signer), signer);
}

/**
 * Builds and signs a PKCS#10 request: version 1, `subject` (default empty), the SPKI of the key pair
 * `signer` belongs to, and `extensions` in one extensionRequest attribute (none when empty).
 */
export function buildCsr(
  spki: Uint8Array,
  extensions: Uint8Array[],
  signer: Signer,
  subject: Uint8Array = EMPTY_NAME,
): Promise<Uint8Array<ArrayBuffer>> {
  const attributes = extensions.length
    ? [der.seq(der.oid(OID.extensionRequest), der.set(der.seq(...extensions)))]
    : [];
  const info = der.seq(der.smallInt(0), subject, spki, der.explicit(0, ...attributes));
  return signStructure(info, signer);
}
