/**
 * Workload certificates and the PEM/X.509 helpers around them: parsing a certificate's facts,
 * splitting PEM bundles, assembling a WorkloadCertificate from a CA's chain, and ztunnel's
 * `CertDump` shape for config_dump.
 */
import { X509Certificate } from "node:crypto";
import { ZtError } from "../error.ts";
import { formatIdentity, type Identity, parseIdentity, sameIdentity } from "./spiffe.ts";
import { findExtension, OID, readUriSans } from "./x509_extensions.ts";
import { type CertificateParts, readCertificate } from "./x509_reader.ts";

/** A workload's key and certificate, as the CA handed it out. */
export interface WorkloadCertificate {
  identity: Identity;
  /** PKCS#8 private key, PEM ("PRIVATE KEY"). */
  keyPem: string;
  /** Leaf first, then intermediates (no roots). */
  certChainPem: string[];
  /** Mesh trust roots. */
  rootsPem: string[];
  notBefore: Date;
  notAfter: Date;
  /**
   * When the certificate's lifetime really began: the CA's signing time before any backdating of
   * `notBefore` (the built-in CA's), or, when that is unknown, the time it was requested (the Istio CA
   * client's). Renewal counts half-life from here. Absent: the certificate manager uses its own request time.
   */
  issuedAt?: Date;
  /** The leaf's serial number: lowercase hex, no colons, no leading zero bytes. */
  serialNumber: string;
}

/** Facts about one certificate. */
export interface CertInfo {
  /** Lowercase hex, no colons, no leading zero bytes. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** URI SANs, in certificate order. */
  identities: string[];
  subject: string;
  issuer: string;
  isCa: boolean;
}

/** ztunnel's `CertDump` (config_dump `certificates[].certChain[]` / `rootCerts[]`). */
export interface CertDump {
  /** base64 of the PEM text, as ztunnel prints it. */
  pem: string;
  /** Decimal, as ztunnel prints it (istioctl parses it base 10). */
  serialNumber: string;
  /** RFC3339, seconds precision, UTC. */
  validFrom: string;
  expirationTime: string;
}

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into its CERTIFICATE blocks (other blocks are ignored). Each ends with "\n". */
export function splitPemBundle(text: string): string[] {
  return [...text.replace(/\r/g, "").matchAll(CERT_RE)].map((m) => m[0] + "\n");
}

/** Wraps DER bytes as PEM with the given label (64-column lines, trailing newline). */
export function derToPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const buf = der instanceof Uint8Array ? der : new Uint8Array(der);
  let bin = "";
  for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
  const lines = btoa(bin).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.map((l) => l + "\n").join("")}-----END ${label}-----\n`;
}

/** The DER of the first PEM block labelled `label`. Throws ZtError("cert") when there is none. */
export function pemToDer(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const body = re.exec(pem)?.[1].replace(/\s+/g, "");
  if (body === undefined) throw new ZtError("cert", `no PEM ${label} block found`);
  try {
    return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  } catch (e) {
    throw new ZtError("cert", `PEM ${label} block is not valid base64`, { cause: e });
  }
}

/** Exports a private key as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). */
export async function exportKeyPem(key: CryptoKey): Promise<string> {
  return derToPem(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/**
 * Parses the first certificate of a PEM text with node:crypto (built into Deno). Throws ZtError("cert")
 * when there is none or it is invalid.
 */
export function parseCertificate(pem: string): X509Certificate {
  const first = splitPemBundle(pem)[0];
  if (!first) throw new ZtError("cert", "no PEM certificate found");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(first);
  } catch (e) {
    throw new ZtError("cert", `invalid certificate: ${(e as Error).message}`, { cause: e });
  }
  certificateParts(cert); // zt's own DER reading must succeed too
  return cert;
}

const partsCache = new WeakMap<X509Certificate, CertificateParts>();

/** The DER parts of a parsed certificate (cached). Throws ZtError("cert") when zt cannot read them. */
export function certificateParts(cert: X509Certificate): CertificateParts {
  let parts = partsCache.get(cert);
  if (!parts) {
    try {
      parts = readCertificate(cert.raw);
    } catch (e) {
      throw new ZtError("cert", `invalid certificate: ${(e as Error).message}`, { cause: e });
    }
    partsCache.set(cert, parts);
  }
  return parts;
}

/** Normalises a hex serial: lowercase, no colons or spaces, no leading zero bytes. */
export function normalizeSerial(hex: string): string {
  let s = hex.replace(/[:\s]/g, "").toLowerCase();
  if (s.length % 2 === 1) s = "0" + s;
  while (s.length > 2 && s.startsWith("00")) s = s.slice(2);
  return s;
}

/** URI SANs of a parsed certificate, in certificate order. */
export function uriSans(cert: X509Certificate): string[] {
  const san = findExtensionIn(cert, OID.subjectAltName);
  if (!san) return [];
  try {
    return readUriSans(san.value);
  } catch (e) {
    throw new ZtError("cert", `invalid subjectAltName: ${(e as Error).message}`, { cause: e });
  }
}

function findExtensionIn(cert: X509Certificate, oid: string) {
  try {
    return findExtension(certificateParts(cert).extensions, oid);
  } catch (e) {
    if (e instanceof ZtError && e.kind === "cert") throw e;
    throw new ZtError("cert", `invalid certificate: ${(e as Error).message}`, { cause: e });
  }
}

/** A Name as node:crypto prints it ("O=a\nCN=b"), joined the way zt always showed it ("O=a, CN=b"). */
function nameString(name: string | undefined): string {
  return (name ?? "").split("\n").join(", ");
}

/** The facts zt needs about a certificate (the first one in `pem`). */
export function parseCertInfo(pem: string | X509Certificate): CertInfo {
  const cert = typeof pem === "string" ? parseCertificate(pem) : pem;
  const parts = certificateParts(cert);
  return {
    serialNumber: normalizeSerial(cert.serialNumber),
    notBefore: parts.notBefore,
    notAfter: parts.notAfter,
    identities: uriSans(cert),
    subject: nameString(cert.subject),
    issuer: nameString(cert.issuer),
    isCa: cert.ca,
  };
}

/** The first URI SAN that is an Istio SPIFFE identity, if any. */
export function certIdentity(cert: X509Certificate): Identity | undefined {
  for (const uri of uriSans(cert)) {
    const id = parseIdentity(uri);
    if (id) return id;
  }
  return undefined;
}

/** RFC3339 with seconds precision in UTC, as chrono's `to_rfc3339_opts(Secs, true)` prints it. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** ztunnel's CertDump for one certificate. */
export function certDump(pem: string): CertDump {
  const cert = parseCertificate(pem);
  const { notBefore, notAfter } = certificateParts(cert);
  return {
    pem: btoa(derToPem(cert.raw, "CERTIFICATE")),
    serialNumber: BigInt("0x" + normalizeSerial(cert.serialNumber)).toString(10),
    validFrom: rfc3339(notBefore),
    expirationTime: rfc3339(notAfter),
  };
}

/**
 * Builds a WorkloadCertificate from a CA response: `chain` is leaf first and root(s) last, where the
 * last element may hold several concatenated roots (Istio's CreateCertificate shape). When `expected`
 * is given the leaf's identity must equal it (ztunnel's SanError check). Throws ZtError("cert").
 */
export function workloadCertificateFromChain(
  keyPem: string,
  chain: string[],
  expected?: Identity,
): WorkloadCertificate {
  if (chain.length < 2) {
    throw new ZtError("cert", `CA chain has ${chain.length} element(s); need a leaf and a root`);
  }
  const rootsPem = splitPemBundle(chain[chain.length - 1]);
  if (rootsPem.length === 0) throw new ZtError("cert", "no root certificate present");
  const certChainPem = chain.slice(0, -1).flatMap(splitPemBundle);
  if (certChainPem.length === 0) throw new ZtError("cert", "no leaf certificate present");
  const leaf = parseCertificate(certChainPem[0]);
  const identity = certIdentity(leaf);
  if (!identity) {
    throw new ZtError("cert", `leaf certificate has no SPIFFE identity (SANs: ${uriSans(leaf).join(", ")})`);
  }
  if (expected && !sameIdentity(identity, expected)) {
    throw new ZtError(
      "cert",
      `leaf identity ${formatIdentity(identity)} does not match requested ${formatIdentity(expected)}`,
    );
  }
  const { notBefore, notAfter } = certificateParts(leaf);
  return {
    identity,
    keyPem,
    certChainPem,
    rootsPem,
    notBefore,
    notAfter,
    serialNumber: normalizeSerial(leaf.serialNumber),
  };
}
