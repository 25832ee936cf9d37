/**
 * Certificate signing requests exactly as ztunnel builds them (`src/tls/csr.rs`): a fresh ECDSA
 * P-256 key, an empty subject, one critical SubjectAltName extension holding the SPIFFE URI, and
 * an ECDSA-with-SHA-256 signature.
 */
import { derToPem, exportKeyPem } from "./certificate.ts";
import { formatIdentity, type Identity } from "./spiffe.ts";
import { buildCsr } from "./x509_builder.ts";
import { uriSubjectAltName } from "./x509_extensions.ts";

/** A PEM CSR and its PKCS#8 PEM private key. */
export interface Csr {
  csrPem: string;
  keyPem: string;
}

const KEY_ALG: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };

/** Creates a CSR for `identity` with a freshly generated P-256 key. */
export async function createCsr(identity: Identity): Promise<Csr> {
  const keys = await crypto.subtle.generateKey(KEY_ALG, true, ["sign", "verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const csr = await buildCsr(spki, [uriSubjectAltName([formatIdentity(identity)], true)], {
    key: keys.privateKey,
    scheme: "ecdsa-with-SHA256",
  });
  return {
    csrPem: derToPem(csr, "CERTIFICATE REQUEST"),
    keyPem: await exportKeyPem(keys.privateKey),
  };
}
