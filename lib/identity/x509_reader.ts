/**
 * Splits DER certificates and PKCS#10 requests into the parts zt uses verbatim (issuer/subject Name
 * bytes, SPKI, the signed bytes) or interprets (validity, extensions). Structure only: signatures are
 * checked elsewhere. Malformed input throws ZtError("der").
 */
import { ZtError } from "../error.ts";
import * as der from "./der.ts";
import { TAG } from "./der.ts";
import { OID, type ParsedExtension, readExtensions } from "./x509_extensions.ts";

type Bytes = Uint8Array<ArrayBuffer>;

/** The signed envelope shared by certificates and CSRs. */
export interface SignedParts {
  /** The signed bytes (TBSCertificate / CertificationRequestInfo), whole TLV. */
  tbs: Bytes;
  /** The signature AlgorithmIdentifier's OID. */
  signatureAlgorithm: string;
  /** The signature BIT STRING's bytes. */
  signature: Bytes;
}

export interface CertificateParts extends SignedParts {
  /** INTEGER content bytes (two's complement, as encoded). */
  serial: Bytes;
  /** DER Name of the issuer, verbatim. */
  issuer: Bytes;
  notBefore: Date;
  notAfter: Date;
  /** DER Name of the subject, verbatim. */
  subject: Bytes;
  /** DER SubjectPublicKeyInfo, verbatim. */
  spki: Bytes;
  extensions: ParsedExtension[];
}

export interface CsrParts extends SignedParts {
  subject: Bytes;
  spki: Bytes;
  /** The extensions of the extensionRequest attribute (empty when there is none). */
  extensions: ParsedExtension[];
}

function readSigned(input: Uint8Array, what: string): SignedParts & { fields: der.DerNode[] } {
  const buf = new Uint8Array(input);
  const outer = der.expectTag(der.readNode(buf), TAG.SEQUENCE, what);
  if (outer.der.length !== buf.length) {
    throw new ZtError("der", `${what}: trailing bytes after the structure`);
  }
  const [tbs, alg, sig, ...extra] = der.children(outer);
  if (extra.length) throw new ZtError("der", `${what}: unexpected fields after the signature`);
  der.expectTag(tbs, TAG.SEQUENCE, `${what} signed part`);
  const algParts = der.children(der.expectTag(alg, TAG.SEQUENCE, "signature AlgorithmIdentifier"));
  const bits = der.expectTag(sig, TAG.BIT_STRING, "signature").content;
  if (bits[0] !== 0) throw new ZtError("der", `${what}: signature has unused bits`);
  return {
    tbs: tbs.der,
    signatureAlgorithm: der.readOid(algParts[0]),
    signature: bits.subarray(1),
    fields: der.children(tbs),
  };
}

/** Parses a DER X.509 certificate. Throws ZtError("der"). */
export function readCertificate(input: Uint8Array): CertificateParts {
  const { fields, ...signed } = readSigned(input, "Certificate");
  let i = 0;
  if (fields[0]?.tag === 0xa0) i++; // [0] EXPLICIT version
  const serial = der.expectTag(fields[i++], TAG.INTEGER, "serialNumber").content;
  der.expectTag(fields[i++], TAG.SEQUENCE, "TBS signature AlgorithmIdentifier");
  const issuer = der.expectTag(fields[i++], TAG.SEQUENCE, "issuer").der;
  const validity = der.children(der.expectTag(fields[i++], TAG.SEQUENCE, "validity"));
  if (validity.length !== 2) throw new ZtError("der", "validity: expected notBefore and notAfter");
  const subject = der.expectTag(fields[i++], TAG.SEQUENCE, "subject").der;
  const spki = der.expectTag(fields[i++], TAG.SEQUENCE, "subjectPublicKeyInfo").der;
  let extensions: ParsedExtension[] = [];
  for (; i < fields.length; i++) {
    if (fields[i].tag === 0xa3) extensions = readExtensions(der.readNode(fields[i].content));
  }
  return {
    ...signed,
    serial,
    issuer,
    notBefore: der.readTime(validity[0]),
    notAfter: der.readTime(validity[1]),
    subject,
    spki,
    extensions,
  };
}

/** Parses a DER PKCS#10 certification request. Throws ZtError("der"). */
export function readCsr(input: Uint8Array): CsrParts {
  const { fields, ...signed } = readSigned(input, "CertificationRequest");
  const [version, subject, spki, attrs] = fields;
  const v = der.expectTag(version, TAG.INTEGER, "version").content;
  if (v.length !== 1 || v[0] !== 0) throw new ZtError("der", "CertificationRequest: version is not v1 (0)");
  der.expectTag(subject, TAG.SEQUENCE, "subject");
  der.expectTag(spki, TAG.SEQUENCE, "subjectPKInfo");
  let extensions: ParsedExtension[] = [];
  for (const attr of attrs ? der.children(der.expectTag(attrs, 0xa0, "attributes")) : []) {
    const [type, values] = der.children(der.expectTag(attr, TAG.SEQUENCE, "Attribute"));
    if (der.readOid(type) !== OID.extensionRequest) continue;
    const [first] = der.children(der.expectTag(values, TAG.SET, "extensionRequest values"));
    extensions = readExtensions(der.expectTag(first, TAG.SEQUENCE, "extensionRequest"));
  }
  return { ...signed, subject: subject.der, spki: spki.der, extensions };
}
