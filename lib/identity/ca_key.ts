/**
 * The built-in CA's signing key: `ca-key.pem` (PKCS#8, SEC1 or PKCS#1) imported into WebCrypto for
 * the CA certificate's key type, and proven to be the certificate's key.
 */
import type { X509Certificate } from "node:crypto";
import { createPrivateKey } from "node:crypto";
import { errorMessage, ZtError } from "../error.ts";
import type { SignatureScheme, Signer } from "./x509_signature.ts";
import { webcryptoParams } from "./x509_signature.ts";

/** node:crypto curve names → WebCrypto's. */
const CURVES: Record<string, string> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

/**
 * Imports `pem` (read from `path`) as the signer for `caCert`: ECDSA keys sign with SHA-384 on P-384
 * and SHA-256 otherwise, RSA keys with sha256WithRSAEncryption. Throws ZtError("ca") naming `path`.
 */
export async function importCaSigner(path: string, pem: string, caCert: X509Certificate): Promise<Signer> {
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = new Uint8Array(createPrivateKey(pem).export({ type: "pkcs8", format: "der" }));
  } catch (e) {
    throw new ZtError("ca", `${path}: not a valid PEM private key: ${errorMessage(e)}`, { cause: e });
  }
  const pub = caCert.publicKey;
  let importAlg: EcKeyImportParams | RsaHashedImportParams;
  let scheme: SignatureScheme;
  const curve = CURVES[pub.asymmetricKeyDetails?.namedCurve ?? ""];
  if (pub.asymmetricKeyType === "ec" && curve) {
    importAlg = { name: "ECDSA", namedCurve: curve };
    scheme = curve === "P-384" ? "ecdsa-with-SHA384" : "ecdsa-with-SHA256";
  } else if (pub.asymmetricKeyType === "rsa") {
    importAlg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    scheme = "sha256WithRSAEncryption";
  } else {
    const what = pub.asymmetricKeyDetails?.namedCurve ?? pub.asymmetricKeyType;
    throw new ZtError("ca", `${path}: unsupported CA key algorithm ${what}`);
  }
  let key: CryptoKey;
  let verifyKey: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", der, importAlg, false, ["sign"]);
    const spki = new Uint8Array(pub.export({ type: "spki", format: "der" }));
    verifyKey = await crypto.subtle.importKey("spki", spki, importAlg, false, ["verify"]);
  } catch (e) {
    throw new ZtError("ca", `${path}: key does not match ca-cert.pem: ${errorMessage(e)}`, { cause: e });
  }
  const alg = webcryptoParams(scheme);
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const sig = await crypto.subtle.sign(alg, key, probe);
  if (!(await crypto.subtle.verify(alg, verifyKey, sig, probe))) {
    throw new ZtError("ca", `${path}: key does not match the certificate in ca-cert.pem`);
  }
  return { key, scheme };
}
