/**
 * The DER builder against what @peculiar/x509 produced before (legacy_pki_fixture.ts): same TBS
 * fields and extensions byte for byte, apart from the key, the serial and the signature.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import { parseCertInfo, pemToDer } from "../../lib/identity/certificate.ts";
import { createCsr } from "../../lib/identity/csr.ts";
import * as der from "../../lib/identity/der.ts";
import {
  basicConstraints,
  KEY_USAGE,
  keyUsage,
  readExtensions,
  readUriSans,
  uriSubjectAltName,
} from "../../lib/identity/x509_extensions.ts";
import { readCertificate, readCsr } from "../../lib/identity/x509_reader.ts";
import { verifySignature } from "../../lib/identity/x509_signature.ts";
import {
  LEGACY_CA_FILES,
  LEGACY_CSR,
  LEGACY_IDENTITY,
  LEGACY_LEAF_LONG,
  LEGACY_LEAF_SHORT,
  LEGACY_LONG_TTL_MS,
  LEGACY_NOW,
  LEGACY_SHORT_TTL_MS,
} from "./legacy_pki_fixture.ts";
import { inTempDir } from "./openssl_helper.ts";

const hex = der.toHex;

/** The TBSCertificate fields of a PEM certificate, as hex, keyed by name. */
function tbsFields(pem: string) {
  const parts = readCertificate(pemToDer(pem, "CERTIFICATE"));
  const f = der.children(der.readNode(parts.tbs));
  assert.equal(f.length, 8, "version, serial, signature, issuer, validity, subject, spki, extensions");
  return {
    version: hex(f[0].der),
    serial: f[1].content,
    signature: hex(f[2].der),
    issuer: hex(f[3].der),
    validity: hex(f[4].der),
    subject: hex(f[5].der),
    spkiAlgorithm: hex(der.children(f[6])[0].der),
    extensions: parts.extensions.map((e) => hex(e.der)),
    outerAlgorithm: parts.signatureAlgorithm,
    parts,
  };
}

/** Loads the legacy CA from the fixture into a temp dir. */
async function legacyCa(dir: string): Promise<BuiltinCa> {
  for (const [f, text] of Object.entries(LEGACY_CA_FILES)) await Deno.writeTextFile(join(dir, f), text);
  return await BuiltinCa.load(dir);
}

Deno.test("leaves from the DER builder match the @peculiar/x509-era leaves field for field", () =>
  inTempDir(async (dir) => {
    const ca = await legacyCa(dir);
    const caSpki = readCertificate(pemToDer(LEGACY_CA_FILES["ca-cert.pem"], "CERTIFICATE")).spki;
    for (
      const [legacy, ttl] of [[LEGACY_LEAF_SHORT, LEGACY_SHORT_TTL_MS], [
        LEGACY_LEAF_LONG,
        LEGACY_LONG_TTL_MS,
      ]] as const
    ) {
      const wc = await ca.sign(LEGACY_IDENTITY, ttl, LEGACY_NOW);
      const { parts, serial, ...now } = tbsFields(wc.certChainPem[0]);
      const { parts: _p, serial: _s, ...before } = tbsFields(legacy);
      assert.deepEqual(now, before);
      assert.equal(now.extensions.length, 5, "basicConstraints, keyUsage, extKeyUsage, AKI, SAN");
      // A positive INTEGER of at most 128 random bits: minimal, with a 0x00 only before a high bit.
      assert.ok(serial.length <= 17 && !(serial[0] & 0x80), hex(serial));
      if (serial.length > 1) assert.ok(serial[0] !== 0 || serial[1] & 0x80, hex(serial));
      assert.equal(wc.serialNumber, hex(serial).replace(/^(00)+/, ""));
      assert.equal(verifySignature(parts, caSpki), true, "signed by ca-cert.pem's key");
      assert.equal(wc.notBefore.getTime(), parseCertInfo(legacy).notBefore.getTime());
      assert.equal(wc.notAfter.getTime(), parseCertInfo(legacy).notAfter.getTime());
    }
  }));

Deno.test("the long-lived legacy leaf really has a GeneralizedTime notAfter (the fixture covers both forms)", () => {
  const validity = der.children(der.readNode(bytesOfField(LEGACY_LEAF_LONG, 4)));
  assert.deepEqual(validity.map((v) => v.tag), [der.TAG.UTC_TIME, der.TAG.GENERALIZED_TIME]);
  const short = der.children(der.readNode(bytesOfField(LEGACY_LEAF_SHORT, 4)));
  assert.deepEqual(short.map((v) => v.tag), [der.TAG.UTC_TIME, der.TAG.UTC_TIME]);
});

function bytesOfField(pem: string, i: number): Uint8Array<ArrayBuffer> {
  const tbs = readCertificate(pemToDer(pem, "CERTIFICATE")).tbs;
  return der.children(der.readNode(tbs))[i].der;
}

Deno.test("createCsr matches the @peculiar/x509-era CSR apart from the key and signature", async () => {
  const legacy = readCsr(pemToDer(LEGACY_CSR, "CERTIFICATE REQUEST"));
  const fresh = readCsr(pemToDer((await createCsr(LEGACY_IDENTITY)).csrPem, "CERTIFICATE REQUEST"));
  const fields = (c: typeof legacy) => {
    const f = der.children(der.readNode(c.tbs));
    return [hex(f[0].der), hex(f[1].der), hex(der.children(f[2])[0].der), hex(f[3].der), f.length];
  };
  assert.deepEqual(fields(fresh), fields(legacy));
  assert.equal(fresh.signatureAlgorithm, legacy.signatureAlgorithm);
  assert.equal(hex(fresh.subject), "3000");
  assert.deepEqual(fresh.extensions.map((e) => [e.oid, e.critical]), [["2.5.29.17", true]]);
  assert.deepEqual(readUriSans(fresh.extensions[0].value), ["spiffe://legacy.example/ns/ns/sa/sa"]);
  assert.equal(verifySignature(fresh, fresh.spki), true);
  assert.equal(verifySignature(legacy, fresh.spki), false, "another key's signature does not verify");
});

Deno.test("extension encodings: named bit strings, DEFAULT FALSE omitted, URI SANs read back in order", () => {
  const value = (ext: Uint8Array) => hex(readExtensions(der.readNode(der.seq(ext)))[0].value);
  assert.equal(value(keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment])), "030205a0");
  assert.equal(value(keyUsage([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])), "03020106");
  assert.equal(
    value(keyUsage([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign, KEY_USAGE.digitalSignature])),
    "03020186",
  );
  assert.equal(value(basicConstraints(false)), "3000");
  assert.equal(value(basicConstraints(true)), "30030101ff");
  assert.equal(value(basicConstraints(true, 0)), "30060101ff020100");
  const uris = ["spiffe://a/ns/b/sa/c", "spiffe://x/ns/y/sa/z"];
  const [san] = readExtensions(der.readNode(der.seq(uriSubjectAltName(uris, false))));
  assert.deepEqual([san.oid, san.critical, readUriSans(san.value)], ["2.5.29.17", false, uris]);
});
