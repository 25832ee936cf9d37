/** mTLS for HBONE: TLS 1.3, ALPN h2, SPIFFE identities checked against the mesh roots. */
import type { PeerCertificate } from "node:tls";
import { type Identity, parseIdentity } from "../identity/spiffe.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";

export const HBONE_ALPN = ["h2"];
/** The TLS 1.3 suites ztunnel allows. */
export const HBONE_CIPHERS = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

/** Key material options shared by server and client. */
export function tlsOptions(cert: WorkloadCertificate) {
  return {
    key: cert.keyPem,
    cert: cert.certChainPem.join("\n"),
    ca: cert.rootsPem,
    minVersion: "TLSv1.3" as const,
    maxVersion: "TLSv1.3" as const,
    ciphers: HBONE_CIPHERS,
    ALPNProtocols: HBONE_ALPN,
  };
}

/** The SPIFFE URIs in a certificate's subjectAltName string ("URI:spiffe://…, DNS:…"). */
export function uriSans(cert: PeerCertificate | Record<string, never> | undefined): string[] {
  const san = (cert as PeerCertificate | undefined)?.subjectaltname;
  if (!san) return [];
  const out: string[] = [];
  for (const part of san.split(",")) {
    const p = part.trim();
    if (p.startsWith("URI:")) out.push(p.slice(4));
  }
  return out;
}

/** The peer's identity: the first URI SAN that parses as SPIFFE. */
export function identityOf(sans: readonly string[]): Identity | undefined {
  for (const uri of sans) {
    const id = parseIdentity(uri);
    if (id) return id;
  }
  return undefined;
}

/** What the TLS layer established about a peer (node:tls or OpenSSL alike). */
export interface PeerFacts {
  readonly authorized: boolean;
  readonly authorizationError?: string;
  readonly peerSans: readonly string[];
}

/** Server side: why a verified client certificate is still refused, or undefined when it is fine. */
export function checkPeerTrustDomain(p: PeerFacts, trustDomain: string): string | undefined {
  if (!p.authorized) return `peer certificate not authorized: ${p.authorizationError ?? "no certificate"}`;
  const id = identityOf(p.peerSans);
  if (!id) return "peer certificate has no SPIFFE identity";
  if (id.trustDomain !== trustDomain) return `peer trust domain ${id.trustDomain} is not ${trustDomain}`;
  return undefined;
}

/** Client side: the server must present one of the expected identities (SPIFFE URIs). */
export function checkServerIdentity(p: PeerFacts, expected: readonly string[]): string | undefined {
  if (!p.authorized) return `server certificate not authorized: ${p.authorizationError ?? "unknown"}`;
  if (expected.length === 0) return undefined;
  for (const s of p.peerSans) if (expected.includes(s)) return undefined;
  return `server identity [${p.peerSans.join(", ")}] is not one of the expected [${expected.join(", ")}]`;
}
