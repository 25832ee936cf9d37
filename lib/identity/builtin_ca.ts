/**
 * zt's built-in CA for standalone mode. It reads Istio's plug-in CA files (ca_init.ts writes them:
 * `root-cert.pem`, `ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`) and issues workload leaves
 * shaped like istiod's: empty subject, critical URI SAN, digitalSignature+keyEncipherment,
 * serverAuth+clientAuth, CA:FALSE.
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { errorMessage, ZtError } from "../error.ts";
import { CA_FILES } from "./ca_init.ts";
import { importCaSigner } from "./ca_key.ts";
import {
  certificateParts,
  derToPem,
  normalizeSerial,
  parseCertificate,
  parseCertInfo,
  pemToDer,
  splitPemBundle,
  type WorkloadCertificate,
} from "./certificate.ts";
import type { CertSource } from "./cert_manager.ts";
import { toHex } from "./der.ts";
import { formatIdentity, type Identity } from "./spiffe.ts";
import { buildCertificate, EMPTY_NAME, randomSerial } from "./x509_builder.ts";
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  findExtension,
  KEY_USAGE,
  keyUsage,
  OID,
  readKeyIdentifier,
  uriSubjectAltName,
} from "./x509_extensions.ts";
import { type CsrParts, readCsr } from "./x509_reader.ts";
import { type Signer, verifySignature } from "./x509_signature.ts";

export { CA_FILES, initCaDir, type InitCaOptions } from "./ca_init.ts";

const EC_P256: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
/** Leaves are backdated by this much to tolerate clock skew between peers. */
const BACKDATE_MS = 60_000;
const LEAF_USAGES = [KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment];

/** A leaf as #issue returns it: its DER and the facts sign() reports. */
interface IssuedLeaf {
  pem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}

/** A CA loaded from a plug-in CA directory. Issues workload certificates. */
export class BuiltinCa {
  /** The leaf extensions that do not depend on the identity, DER-encoded once. */
  readonly #staticExtensions: Uint8Array[];
  /** The CA certificate's subject Name, verbatim: every leaf's issuer. */
  readonly #issuerName: Uint8Array;
  readonly #caNotAfter: number;

  private constructor(
    readonly dir: string,
    caCert: X509Certificate,
    private readonly signer: Signer,
    private readonly intermediates: string[],
    private readonly roots: string[],
  ) {
    const parts = certificateParts(caCert);
    this.#issuerName = parts.subject;
    this.#caNotAfter = parts.notAfter.getTime();
    const ski = findExtension(parts.extensions, OID.subjectKeyIdentifier);
    this.#staticExtensions = [
      basicConstraints(false),
      keyUsage(LEAF_USAGES),
      extKeyUsage([OID.serverAuth, OID.clientAuth]),
      ...(ski ? [authorityKeyIdentifier(readKeyIdentifier(ski.value))] : []),
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
    if (!caCert.ca) {
      throw new ZtError("ca", `${caCertPath}: certificate is not a CA (basicConstraints CA:TRUE missing)`);
    }
    const signer = await importCaSigner(caKeyPath, await readFile(caKeyPath), caCert);

    const roots = splitPemBundle(await readFile(rootPath));
    if (roots.length === 0) throw new ZtError("ca", `${rootPath}: no PEM certificate found`);
    const rootCerts = roots.map((p) => parseIn(rootPath, p));

    const chainText = await readFile(chainPath, caCertPem);
    const chain = splitPemBundle(chainText).map((p) => parseIn(chainPath, p));
    if (chain.length === 0 || !same(chain[0], caCert)) {
      throw new ZtError("ca", `${chainPath}: does not start with the certificate in ${CA_FILES.caCert}`);
    }
    // Intermediates are the chain minus roots and self-issued certificates.
    const intermediates = chain.filter((c) => !selfIssued(c) && !rootCerts.some((r) => same(r, c)));
    for (let i = 0; i < intermediates.length; i++) {
      const issuers = i + 1 < intermediates.length ? [intermediates[i + 1]] : rootCerts;
      if (!issuers.some((issuer) => signedBy(intermediates[i], issuer))) {
        const what = i + 1 < intermediates.length ? `the next certificate in ${chainPath}` : rootPath;
        const subject = parseCertInfo(intermediates[i]).subject;
        throw new ZtError("ca", `${chainPath}: "${subject}" is not signed by ${what}`);
      }
    }
    if (intermediates.length === 0 && !rootCerts.some((r) => same(r, caCert))) {
      throw new ZtError("ca", `${caCertPath}: self-signed CA certificate is not in ${rootPath}`);
    }
    const intermediatesPem = intermediates.map((c) => derToPem(c.raw, "CERTIFICATE"));
    return new BuiltinCa(dir, caCert, signer, intermediatesPem, roots);
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
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
    const leaf = await this.#issue(spki, identity, ttlMs, now);
    return {
      identity: { ...identity },
      keyPem: derToPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
      certChainPem: [leaf.pem, ...this.intermediates],
      rootsPem: [...this.roots],
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      issuedAt: new Date(now.getTime()),
      serialNumber: leaf.serialNumber,
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
    let csr: CsrParts;
    let verified: boolean;
    try {
      csr = readCsr(pemToDer(csrPem, "CERTIFICATE REQUEST"));
      verified = verifySignature(csr, csr.spki);
    } catch (e) {
      throw new ZtError("ca", `invalid CSR: ${errorMessage(e)}`, { cause: e });
    }
    if (!verified) throw new ZtError("ca", "CSR signature does not verify");
    const leaf = await this.#issue(csr.spki, identity, ttlMs, now);
    return [leaf.pem, ...this.intermediates, this.roots.join("")];
  }

  /** A CertSource issuing `ttlMs` leaves from this CA. */
  source(ttlMs: number, now: () => Date = () => new Date()): CertSource {
    return { fetch: (identity) => this.sign(identity, ttlMs, now()) };
  }

  async #issue(spki: Uint8Array, identity: Identity, ttlMs: number, now: Date): Promise<IssuedLeaf> {
    if (!(ttlMs > 0)) throw new ZtError("ca", `certificate TTL must be positive, got ${ttlMs} ms`);
    const notBefore = seconds(now.getTime() - BACKDATE_MS);
    const notAfter = seconds(Math.min(now.getTime() + ttlMs, this.#caNotAfter));
    const serial = randomSerial(); // 128 random bits, encoded as a positive INTEGER
    const der = await buildCertificate({
      serial,
      issuer: this.#issuerName,
      subject: EMPTY_NAME,
      notBefore,
      notAfter,
      spki,
      extensions: [...this.#staticExtensions, uriSubjectAltName([formatIdentity(identity)], true)],
    }, this.signer);
    return {
      pem: derToPem(der, "CERTIFICATE"),
      notBefore,
      notAfter,
      serialNumber: normalizeSerial(toHex(serial)),
    };
  }
}

/** A time truncated to whole seconds, as certificates carry it. */
function seconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function same(a: X509Certificate, b: X509Certificate): boolean {
  return a.raw.equals(b.raw);
}

function selfIssued(c: X509Certificate): boolean {
  const { subject, issuer } = certificateParts(c);
  return subject.length === issuer.length && subject.every((b, i) => b === issuer[i]);
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function parseIn(path: string, pem: string): X509Certificate {
  try {
    return parseCertificate(pem);
  } catch (e) {
    throw new ZtError("ca", `${path}: ${errorMessage(e)}`, { cause: e });
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
