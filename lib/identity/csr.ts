/**
 * Certificate signing requests exactly as ztunnel builds them (`src/tls/csr.rs`): a fresh ECDSA
 * P-256 key, an empty subject, one critical SubjectAltName extension holding the SPIFFE URI, and
 * an ECDSA-with-SHA-256 signature.
 */
import * as x509 from "@peculiar/x509";
import { exportKeyPem } from "./certificate.ts";
import { formatIdentity, type Identity } from "./spiffe.ts";

/** A PEM CSR and its PKCS#8 PEM private key. */
export interface Csr {
  csrPem: string;
  keyPem: string;
}

const KEY_ALG: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGN_ALG: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** Creates a CSR for `identity` with a freshly generated P-256 key. */
export async function createCsr(identity: Identity): Promise<Csr> {
  const keys = await crypto.subtle.generateKey(KEY_ALG, true, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: SIGN_ALG,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: formatIdentity(identity) }], true),
    ],
  }, crypto);
  return {
    csrPem: csr.toString("pem").replace(/\r/g, "") + "\n",
    keyPem: await exportKeyPem(keys.privateKey),
  };
}
