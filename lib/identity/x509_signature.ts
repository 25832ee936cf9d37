/**
 * Signatures over DER structures: signing a TBSCertificate / CertificationRequestInfo with a WebCrypto
 * key (ECDSA's r||s turned into the DER `Ecdsa-Sig-Value` X.509 wants), and checking one with
 * node:crypto, which reads DER ECDSA signatures and SPKI keys directly.
 */
import { Buffer } from "node:buffer";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { ZtError } from "../error.ts";
import * as der from "./der.ts";
import type { SignedParts } from "./x509_reader.ts";

/** The signature algorithms zt signs with. */
export type SignatureScheme = "ecdsa-with-SHA256" | "ecdsa-with-SHA384" | "sha256WithRSAEncryption";

interface SchemeInfo {
  oid: string;
  webcrypto: EcdsaParams | Algorithm;
  /** RSA AlgorithmIdentifiers carry an explicit NULL parameter; ECDSA ones carry none (RFC 5758). */
  nullParameter: boolean;
}

const SCHEMES: Record<SignatureScheme, SchemeInfo> = {
  "ecdsa-with-SHA256": {
    oid: "1.2.840.10045.4.3.2",
    webcrypto: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
    nullParameter: false,
  },
  "ecdsa-with-SHA384": {
    oid: "1.2.840.10045.4.3.3",
    webcrypto: { name: "ECDSA", hash: "SHA-384" } as EcdsaParams,
    nullParameter: false,
  },
  "sha256WithRSAEncryption": {
    oid: "1.2.840.113549.1.1.11",
    webcrypto: { name: "RSASSA-PKCS1-v1_5" },
    nullParameter: true,
  },
};

/** Signature algorithm OIDs zt can check, with node:crypto's digest name. */
const VERIFY_DIGESTS: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

/** A private key and the scheme it signs with. */
export interface Signer {
  key: CryptoKey;
  scheme: SignatureScheme;
}

/** The WebCrypto parameters of a scheme (for `crypto.subtle.sign/verify`). */
export function webcryptoParams(scheme: SignatureScheme): EcdsaParams | Algorithm {
  return SCHEMES[scheme].webcrypto;
}

/** The DER AlgorithmIdentifier of a scheme. */
export function algorithmIdentifier(scheme: SignatureScheme): Uint8Array {
  const s = SCHEMES[scheme];
  return s.nullParameter ? der.seq(der.oid(s.oid), der.nul()) : der.seq(der.oid(s.oid));
}

/**
 * Signs `tbs` (a whole DER TLV) and returns `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }`, the
 * shape of both Certificate and CertificationRequest. `tbs` must already name the same algorithm.
 */
export async function signStructure(
  tbs: Uint8Array<ArrayBuffer>,
  signer: Signer,
): Promise<Uint8Array<ArrayBuffer>> {
  const s = SCHEMES[signer.scheme];
  let sig = new Uint8Array(await crypto.subtle.sign(s.webcrypto, signer.key, tbs));
  if (signer.key.algorithm.name === "ECDSA") sig = ecdsaRawToDer(sig);
  return der.seq(tbs, algorithmIdentifier(signer.scheme), der.bits(sig));
}

/** WebCrypto's ECDSA signature (r || s, fixed width) as DER `SEQUENCE { r INTEGER, s INTEGER }`. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new ZtError("der", `ECDSA signature of odd length ${raw.length}`);
  }
  const half = raw.length / 2;
  return der.seq(der.uint(raw.subarray(0, half)), der.uint(raw.subarray(half)));
}

/**
 * Checks the signature of a certificate or CSR against a DER SPKI (its own for a CSR, the issuer's for
 * a certificate). False when it does not verify; ZtError("der") for an algorithm zt does not know.
 */
export function verifySignature(parts: SignedParts, spki: Uint8Array): boolean {
  const digest = VERIFY_DIGESTS[parts.signatureAlgorithm];
  if (!digest) throw new ZtError("der", `unsupported signature algorithm ${parts.signatureAlgorithm}`);
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    return nodeVerify(digest, parts.tbs, key, parts.signature);
  } catch {
    return false; // an unusable key or a malformed signature does not verify
  }
}
