/**
 * Workload certificates and the PEM/X.509 helpers around them: parsing a certificate's facts,
 * splitting PEM bundles, assembling a WorkloadCertificate from a CA's chain, and ztunnel's
 * `CertDump` shape for config_dump.
 */
import * as x509 from "@peculiar/x509";
import { ZtError } from "../error.ts";
import { formatIdentity, type Identity, parseIdentity, sameIdentity } from "./spiffe.ts";

x509.cryptoProvider.set(crypto);

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
  return x509.PemConverter.encode(buf.slice().buffer, label).replace(/\r/g, "") + "\n";
}

/** Exports a private key as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). */
export async function exportKeyPem(key: CryptoKey): Promise<string> {
  return derToPem(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** Parses the first certificate of a PEM text. Throws ZtError("cert") when there is none or it is invalid. */
export function parseCertificate(pem: string): x509.X509Certificate {
  const first = splitPemBundle(pem)[0];
  if (!first) throw new ZtError("cert", "no PEM certificate found");
  try {
    return new x509.X509Certificate(first);
  } catch (e) {
    throw new ZtError("cert", `invalid certificate: ${(e as Error).message}`, { cause: e });
  }
}

/** Normalises a hex serial: lowercase, no colons or spaces, no leading zero bytes. */
export function normalizeSerial(hex: string): string {
  let s = hex.replace(/[:\s]/g, "").toLowerCase();
  if (s.length % 2 === 1) s = "0" + s;
  while (s.length > 2 && s.startsWith("00")) s = s.slice(2);
  return s;
}

/** URI SANs of a parsed certificate. */
export function uriSans(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === "url").map((n) => n.value);
}

/** The facts zt needs about a certificate (the first one in `pem`). */
export function parseCertInfo(pem: string | x509.X509Certificate): CertInfo {
  const cert = typeof pem === "string" ? parseCertificate(pem) : pem;
  return {
    serialNumber: normalizeSerial(cert.serialNumber),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    identities: uriSans(cert),
    subject: cert.subject,
    issuer: cert.issuer,
    isCa: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
  };
}

/** The first URI SAN that is an Istio SPIFFE identity, if any. */
export function certIdentity(cert: x509.X509Certificate): Identity | undefined {
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
  const text = cert.toString("pem").replace(/\r/g, "") + "\n";
  return {
    pem: btoa(text),
    serialNumber: BigInt("0x" + normalizeSerial(cert.serialNumber)).toString(10),
    validFrom: rfc3339(cert.notBefore),
    expirationTime: rfc3339(cert.notAfter),
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
  return {
    identity,
    keyPem,
    certChainPem,
    rootsPem,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serialNumber: normalizeSerial(leaf.serialNumber),
  };
}
