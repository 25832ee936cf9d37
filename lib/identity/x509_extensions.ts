/**
 * The X.509 v3 extensions zt writes (RFC 5280 §4.2), as DER `Extension`s, and the few it reads back:
 * URI SANs, the subject key identifier, basicConstraints.
 */
import { ZtError } from "../error.ts";
import * as der from "./der.ts";
import { type DerNode, TAG } from "./der.ts";

export const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  extensionRequest: "1.2.840.113549.1.9.14",
  organizationName: "2.5.4.10",
  commonName: "2.5.4.3",
} as const;

/** keyUsage bit numbers (RFC 5280 §4.2.1.3). */
export const KEY_USAGE = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

/** One DER Extension: `SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }`. */
export function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? der.seq(der.oid(oid), der.bool(true), der.octets(value))
    : der.seq(der.oid(oid), der.octets(value));
}

/** basicConstraints, always critical (as zt and istiod mark it). `cA` FALSE is the DER default, so omitted. */
export function basicConstraints(ca: boolean, pathLen?: number): Uint8Array {
  const body = ca ? [der.bool(true), ...(pathLen === undefined ? [] : [der.smallInt(pathLen)])] : [];
  return extension(OID.basicConstraints, true, der.seq(...body));
}

/** keyUsage (critical) with the given bit numbers, as a DER named bit string (trailing zero bits dropped). */
export function keyUsage(bitNumbers: number[]): Uint8Array {
  const top = Math.max(...bitNumbers);
  const bytes = new Uint8Array((top >> 3) + 1);
  for (const b of bitNumbers) bytes[b >> 3] |= 0x80 >> (b & 7);
  const unused = 7 - (top & 7);
  return extension(OID.keyUsage, true, der.bits(bytes, unused));
}

/** extKeyUsage (not critical). */
export function extKeyUsage(oids: string[]): Uint8Array {
  return extension(OID.extKeyUsage, false, der.seq(...oids.map(der.oid)));
}

/** subjectKeyIdentifier (not critical). */
export function subjectKeyIdentifier(keyId: Uint8Array): Uint8Array {
  return extension(OID.subjectKeyIdentifier, false, der.octets(keyId));
}

/** authorityKeyIdentifier (not critical) holding only `[0] keyIdentifier`. */
export function authorityKeyIdentifier(keyId: Uint8Array): Uint8Array {
  return extension(OID.authorityKeyIdentifier, false, der.seq(der.implicit(0, keyId)));
}

/** subjectAltName with URI names (`[6] IA5String`). */
export function uriSubjectAltName(uris: string[], critical: boolean): Uint8Array {
  return extension(
    OID.subjectAltName,
    critical,
    der.seq(...uris.map((u) => der.implicit(6, new TextEncoder().encode(u)))),
  );
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits, from a DER SPKI. */
export async function keyIdentifier(spki: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const [, key] = der.children(der.expectTag(der.readNode(spki), TAG.SEQUENCE, "SubjectPublicKeyInfo"));
  const bitString = der.expectTag(key, TAG.BIT_STRING, "subjectPublicKey").content.subarray(1);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", bitString));
}

/** An extension as read back from DER. */
export interface ParsedExtension {
  oid: string;
  critical: boolean;
  /** The extnValue OCTET STRING's content (the extension's own DER). */
  value: Uint8Array<ArrayBuffer>;
  /** The whole Extension encoding. */
  der: Uint8Array<ArrayBuffer>;
}

/** Parses `Extensions ::= SEQUENCE OF Extension`. Throws ZtError("der"). */
export function readExtensions(node: DerNode): ParsedExtension[] {
  return der.children(der.expectTag(node, TAG.SEQUENCE, "Extensions")).map((ext) => {
    const parts = der.children(der.expectTag(ext, TAG.SEQUENCE, "Extension"));
    const critical = parts.length === 3 && der.expectTag(parts[1], TAG.BOOLEAN, "critical").content[0] !== 0;
    const value = der.expectTag(parts[parts.length - 1], TAG.OCTET_STRING, "extnValue").content;
    return { oid: der.readOid(parts[0]), critical, value, der: ext.der };
  });
}

/** URI names of a subjectAltName value, in order (other name types are skipped). */
export function readUriSans(value: Uint8Array<ArrayBuffer>): string[] {
  const names = der.children(der.expectTag(der.readNode(value), TAG.SEQUENCE, "GeneralNames"));
  return names.filter((n) => n.tag === 0x86).map((n) => new TextDecoder().decode(n.content));
}

/** The keyIdentifier of a subjectKeyIdentifier value. */
export function readKeyIdentifier(value: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return der.expectTag(der.readNode(value), TAG.OCTET_STRING, "SubjectKeyIdentifier").content;
}

/** Finds one extension by OID; throws ZtError("der") if it appears twice (RFC 5280 forbids it). */
export function findExtension(exts: ParsedExtension[], oid: string): ParsedExtension | undefined {
  const found = exts.filter((e) => e.oid === oid);
  if (found.length > 1) throw new ZtError("der", `extension ${oid} appears ${found.length} times`);
  return found[0];
}
