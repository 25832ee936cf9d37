/**
 * zt's built-in CA for standalone mode. It reads and writes Istio's plug-in CA files
 * (`root-cert.pem`, `ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`) and issues workload leaves
 * shaped like istiod's: empty subject, critical URI SAN, digitalSignature+keyEncipherment,
 * serverAuth+clientAuth, CA:FALSE.
 */
import * as x509 from "@peculiar/x509";
import { createPrivateKey } from "node:crypto";
import { join } from "node:path";
import { errorMessage, ZtError } from "../error.ts";
import {
  exportKeyPem,
  normalizeSerial,
  parseCertificate,
  splitPemBundle,
  type WorkloadCertificate,
} from "./certificate.ts";
import type { CertSource } from "./cert_manager.ts";
import { formatIdentity, type Identity } from "./spiffe.ts";

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
const LEAF_USAGES = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
const CA_USAGES = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

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
  const tag = randomHex(4);
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore.getTime() + BACKDATE_MS + days * DAY_MS);
  const rootKeys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const caKeys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const rootSki = await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, crypto);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ O: [trustDomain] }, { CN: [`zt root CA ${tag}`] }],
    keys: rootKeys,
    notBefore,
    notAfter,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      rootSki,
    ],
  }, crypto);
  const ca = await x509.X509CertificateGenerator.create({
    subject: [{ O: [trustDomain] }, { CN: [`zt intermediate CA ${tag}`] }],
    issuer: root.subjectName,
    publicKey: caKeys.publicKey,
    signingKey: rootKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(CA_USAGES | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      new x509.AuthorityKeyIdentifierExtension(rootSki.keyId, false),
    ],
  }, crypto);
  const rootPem = pemOf(root);
  const caPem = pemOf(ca);
  const createNew = !opts.force;
  await Deno.writeTextFile(path(CA_FILES.caKey), await exportKeyPem(caKeys.privateKey), {
    mode: 0o600,
    createNew,
  });
  await Deno.chmod(path(CA_FILES.caKey), 0o600);
  await Deno.writeTextFile(path(CA_FILES.caCert), caPem, { createNew });
  await Deno.writeTextFile(path(CA_FILES.rootCert), rootPem, { createNew });
  await Deno.writeTextFile(path(CA_FILES.certChain), caPem + rootPem, { createNew });
}

/** A CA loaded from a plug-in CA directory. Issues workload certificates. */
export class BuiltinCa {
  readonly #staticExtensions: x509.Extension[];

  private constructor(
    readonly dir: string,
    private readonly caCert: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
    private readonly signingAlg: Algorithm,
    private readonly intermediates: string[],
    private readonly roots: string[],
  ) {
    const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
    this.#staticExtensions = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(LEAF_USAGES, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(ski ? [new x509.AuthorityKeyIdentifierExtension(ski.keyId, false)] : []),
    ];
  }

  /** Loads `dir`. Throws ZtError("ca") naming the offending file. */
  static async load(dir: string): Promise<BuiltinCa> {
    const caCertPath = join(dir, CA_FILES.caCert);
    const caKeyPath = join(dir, CA_FILES.caKey);
    const rootPath = join(dir, CA_FILES.rootCert);
    const chainPath = join(dir, CA_FILES.certChain);

    const caCertPem = splitPemBundle(await readFile(caCertPath))[0];
    if (!caCertPem) throw new ZtError("ca", `${caCertPath}: no PEM certificate found`);
    const caCert = parseIn(caCertPath, caCertPem);
    if (!caCert.getExtension(x509.BasicConstraintsExtension)?.ca) {
      throw new ZtError("ca", `${caCertPath}: certificate is not a CA (basicConstraints CA:TRUE missing)`);
    }
    const { key, alg } = await importSigningKey(caKeyPath, await readFile(caKeyPath), caCert);

    const roots = splitPemBundle(await readFile(rootPath));
    if (roots.length === 0) throw new ZtError("ca", `${rootPath}: no PEM certificate found`);
    const rootCerts = roots.map((p) => parseIn(rootPath, p));

    const chainText = await readFile(chainPath, caCertPem);
    const chain = splitPemBundle(chainText).map((p) => parseIn(chainPath, p));
    if (chain.length === 0 || !chain[0].equal(caCert)) {
      throw new ZtError("ca", `${chainPath}: does not start with the certificate in ${CA_FILES.caCert}`);
    }
    // Intermediates are the chain minus roots and self-issued certificates.
    const intermediates = chain.filter((c) => c.subject !== c.issuer && !rootCerts.some((r) => r.equal(c)));
    for (let i = 0; i < intermediates.length; i++) {
      const issuers = i + 1 < intermediates.length ? [intermediates[i + 1]] : rootCerts;
      if (!(await signedByAny(intermediates[i], issuers))) {
        const what = i + 1 < intermediates.length ? `the next certificate in ${chainPath}` : rootPath;
        throw new ZtError("ca", `${chainPath}: "${intermediates[i].subject}" is not signed by ${what}`);
      }
    }
    if (intermediates.length === 0 && !rootCerts.some((r) => r.equal(caCert))) {
      throw new ZtError("ca", `${caCertPath}: self-signed CA certificate is not in ${rootPath}`);
    }
    return new BuiltinCa(dir, caCert, key, alg, intermediates.map(pemOf), roots);
  }

  /** The mesh roots (root-cert.pem), one PEM per element. */
  get rootsPem(): string[] {
    return [...this.roots];
  }

  /** The intermediates that follow a leaf in a chain (ca-cert first). */
  get intermediatesPem(): string[] {
    return [...this.intermediates];
  }

  /** Issues a leaf for `identity` with a fresh P-256 key. */
  async sign(identity: Identity, ttlMs: number, now: Date = new Date()): Promise<WorkloadCertificate> {
    const keys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
    const leaf = await this.#issue(keys.publicKey, identity, ttlMs, now);
    return {
      identity: { ...identity },
      keyPem: await exportKeyPem(keys.privateKey),
      certChainPem: [pemOf(leaf), ...this.intermediates],
      rootsPem: [...this.roots],
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      serialNumber: normalizeSerial(leaf.serialNumber),
    };
  }

  /**
   * Signs a PEM CSR, ignoring its subject and SANs: the leaf carries `identity` (as istiod does for
   * impersonated identities). Returns Istio's CreateCertificate shape: leaf, intermediates, and the
   * root(s) concatenated as the last element. Throws ZtError("ca") for an invalid CSR.
   */
  async signCsr(
    csrPem: string,
    identity: Identity,
    ttlMs: number,
    now: Date = new Date(),
  ): Promise<string[]> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (e) {
      throw new ZtError("ca", `invalid CSR: ${errorMessage(e)}`, { cause: e });
    }
    if (!(await csr.verify(crypto))) throw new ZtError("ca", "CSR signature does not verify");
    const leaf = await this.#issue(csr.publicKey, identity, ttlMs, now);
    return [pemOf(leaf), ...this.intermediates, this.roots.join("")];
  }

  /** A CertSource issuing `ttlMs` leaves from this CA. */
  source(ttlMs: number, now: () => Date = () => new Date()): CertSource {
    return { fetch: (identity) => this.sign(identity, ttlMs, now()) };
  }

  async #issue(
    publicKey: CryptoKey | x509.PublicKey,
    identity: Identity,
    ttlMs: number,
    now: Date,
  ): Promise<x509.X509Certificate> {
    if (!(ttlMs > 0)) throw new ZtError("ca", `certificate TTL must be positive, got ${ttlMs} ms`);
    const notAfter = Math.min(now.getTime() + ttlMs, this.caCert.notAfter.getTime());
    return await x509.X509CertificateGenerator.create({
      serialNumber: randomHex(16), // 128 random bits, encoded as a positive INTEGER
      issuer: this.caCert.subjectName,
      publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: this.signingAlg,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(notAfter),
      extensions: [
        ...this.#staticExtensions,
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: formatIdentity(identity) }], true),
      ],
    }, crypto);
  }
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function pemOf(cert: x509.X509Certificate): string {
  return cert.toString("pem").replace(/\r/g, "") + "\n";
}

function parseIn(path: string, pem: string): x509.X509Certificate {
  try {
    return parseCertificate(pem);
  } catch (e) {
    throw new ZtError("ca", `${path}: ${errorMessage(e)}`, { cause: e });
  }
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

async function readFile(path: string, fallback?: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (fallback !== undefined && e instanceof Deno.errors.NotFound) return fallback;
    const why = e instanceof Deno.errors.NotFound ? "file is missing" : errorMessage(e);
    throw new ZtError("ca", `${path}: cannot read: ${why}`, { cause: e });
  }
}

async function signedByAny(cert: x509.X509Certificate, issuers: x509.X509Certificate[]): Promise<boolean> {
  for (const issuer of issuers) {
    if (await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }, crypto)) return true;
  }
  return false;
}

/** Imports ca-key.pem (PKCS#8, SEC1 or PKCS#1) for the CA certificate's key type and checks they match. */
async function importSigningKey(
  path: string,
  pem: string,
  caCert: x509.X509Certificate,
): Promise<{ key: CryptoKey; alg: Algorithm }> {
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = new Uint8Array(createPrivateKey(pem).export({ type: "pkcs8", format: "der" }));
  } catch (e) {
    throw new ZtError("ca", `${path}: not a valid PEM private key: ${errorMessage(e)}`, { cause: e });
  }
  const pub = caCert.publicKey.algorithm as EcKeyAlgorithm | RsaKeyAlgorithm;
  let importAlg: EcKeyImportParams | RsaHashedImportParams;
  let alg: EcdsaParams | Algorithm;
  if (pub.name === "ECDSA" && "namedCurve" in pub) {
    importAlg = { name: "ECDSA", namedCurve: pub.namedCurve };
    alg = { name: "ECDSA", hash: pub.namedCurve === "P-384" ? "SHA-384" : "SHA-256" } as EcdsaParams;
  } else if (pub.name === "RSASSA-PKCS1-v1_5") {
    importAlg = { name: pub.name, hash: "SHA-256" };
    alg = { name: pub.name };
  } else {
    throw new ZtError("ca", `${path}: unsupported CA key algorithm ${pub.name}`);
  }
  let key: CryptoKey;
  let verifyKey: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", der, importAlg, false, ["sign"]);
    verifyKey = await crypto.subtle.importKey("spki", caCert.publicKey.rawData, importAlg, false, ["verify"]);
  } catch (e) {
    throw new ZtError("ca", `${path}: key does not match ${CA_FILES.caCert}: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const sig = await crypto.subtle.sign(alg, key, probe);
  if (!(await crypto.subtle.verify(alg, verifyKey, sig, probe))) {
    throw new ZtError("ca", `${path}: key does not match the certificate in ${CA_FILES.caCert}`);
  }
  return { key, alg };
}
