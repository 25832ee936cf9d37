/**
 * `zt ca init`: a fresh plug-in CA directory in Istio's layout (`root-cert.pem`, `ca-cert.pem`,
 * `ca-key.pem`, `cert-chain.pem`): an ECDSA P-256 root and an intermediate (pathLen 0) under it.
 */
import { join } from "node:path";
import { ZtError } from "../error.ts";
import { derToPem } from "./certificate.ts";
import { toHex } from "./der.ts";
import { buildCertificate, name } from "./x509_builder.ts";
import {
  authorityKeyIdentifier,
  basicConstraints,
  KEY_USAGE,
  keyIdentifier,
  keyUsage,
  OID,
  subjectKeyIdentifier,
} from "./x509_extensions.ts";
import type { Signer } from "./x509_signature.ts";

/** Istio's plug-in CA file names. */
export const CA_FILES = {
  rootCert: "root-cert.pem",
  caCert: "ca-cert.pem",
  caKey: "ca-key.pem",
  certChain: "cert-chain.pem",
} as const;

export interface InitCaOptions {
  /** Goes into the CA subjects' O= attribute. Default "cluster.local". */
  trustDomain?: string;
  /** Validity of the root and the intermediate. Default 3650 days. */
  validityDays?: number;
  /** Overwrite existing files. */
  force?: boolean;
}

const EC_P256: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const DAY_MS = 86_400_000;
/** Leaves are backdated by this much to tolerate clock skew between peers. */
const BACKDATE_MS = 60_000;
const CA_USAGES = [KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign];

/** Writes a fresh root and intermediate CA into `dir` (created if missing). Throws ZtError("ca"). */
export async function initCaDir(dir: string, opts: InitCaOptions = {}): Promise<void> {
  const trustDomain = opts.trustDomain ?? "cluster.local";
  const days = opts.validityDays ?? 3650;
  if (!(days > 0)) throw new ZtError("ca", `validityDays must be positive, got ${days}`);
  const path = (f: string) => join(dir, f);
  await Deno.mkdir(dir, { recursive: true });
  if (!opts.force) {
    for (const f of Object.values(CA_FILES)) {
      if (await exists(path(f))) {
        throw new ZtError("ca", `${path(f)} already exists; refusing to overwrite it (use force)`);
      }
    }
  }
  const tag = toHex(crypto.getRandomValues(new Uint8Array(4)));
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore.getTime() + BACKDATE_MS + days * DAY_MS);
  const rootKeys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const caKeys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const rootSpki = new Uint8Array(await crypto.subtle.exportKey("spki", rootKeys.publicKey));
  const caSpki = new Uint8Array(await crypto.subtle.exportKey("spki", caKeys.publicKey));
  const rootSki = await keyIdentifier(rootSpki);
  const rootName = name([[OID.organizationName, trustDomain], [OID.commonName, `zt root CA ${tag}`]]);
  const rootSigner: Signer = { key: rootKeys.privateKey, scheme: "ecdsa-with-SHA256" };
  const root = await buildCertificate({
    issuer: rootName,
    subject: rootName,
    notBefore,
    notAfter,
    spki: rootSpki,
    extensions: [basicConstraints(true), keyUsage(CA_USAGES), subjectKeyIdentifier(rootSki)],
  }, rootSigner);
  const ca = await buildCertificate({
    issuer: rootName,
    subject: name([[OID.organizationName, trustDomain], [OID.commonName, `zt intermediate CA ${tag}`]]),
    notBefore,
    notAfter,
    spki: caSpki,
    extensions: [
      basicConstraints(true, 0),
      keyUsage([...CA_USAGES, KEY_USAGE.digitalSignature]),
      subjectKeyIdentifier(await keyIdentifier(caSpki)),
      authorityKeyIdentifier(rootSki),
    ],
  }, rootSigner);
  const rootPem = derToPem(root, "CERTIFICATE");
  const caPem = derToPem(ca, "CERTIFICATE");
  const caKeyPem = derToPem(await crypto.subtle.exportKey("pkcs8", caKeys.privateKey), "PRIVATE KEY");
  const createNew = !opts.force;
  await Deno.writeTextFile(path(CA_FILES.caKey), caKeyPem, { mode: 0o600, createNew });
  await Deno.chmod(path(CA_FILES.caKey), 0o600);
  await Deno.writeTextFile(path(CA_FILES.caCert), caPem, { createNew });
  await Deno.writeTextFile(path(CA_FILES.rootCert), rootPem, { createNew });
  await Deno.writeTextFile(path(CA_FILES.certChain), caPem + rootPem, { createNew });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
