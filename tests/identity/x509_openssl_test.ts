/**
 * zt's certificates and CSRs against a real X.509 implementation (the openssl CLI; skipped without
 * it): strict chain verification, the extensions openssl reads, openssl-made CAs and CSRs.
 */
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { BuiltinCa, CA_FILES, initCaDir } from "../../lib/identity/builtin_ca.ts";
import { createCsr } from "../../lib/identity/csr.ts";
import { LEGACY_CA_FILES, LEGACY_IDENTITY, LEGACY_LEAF_SHORT, LEGACY_NOW } from "./legacy_pki_fixture.ts";
import { haveOpenssl, inTempDir, openssl } from "./openssl_helper.ts";

const id = { trustDomain: "cluster.local", namespace: "default", serviceAccount: "sleep" };

/** The "X509v3 extensions:" block of `openssl x509 -text`. */
function extensionsText(text: string): string {
  const m = /X509v3 extensions:\n([\s\S]*?)\n\s*Signature Algorithm:/.exec(text);
  assert.ok(m, text);
  return m[1];
}

/** `openssl verify -x509_strict` of leaf.pem for both TLS purposes. */
async function verifyLeaf(dir: string, extra: string[] = []): Promise<void> {
  for (const purpose of ["sslserver", "sslclient"]) {
    const out = await openssl([
      "verify",
      "-x509_strict",
      "-CAfile",
      CA_FILES.rootCert,
      "-untrusted",
      CA_FILES.caCert,
      "-purpose",
      purpose,
      ...extra,
      "leaf.pem",
    ], dir);
    assert.match(out, /leaf\.pem: OK/);
  }
}

Deno.test("openssl: a new leaf shows the same extensions as the @peculiar/x509-era one and verifies", async () => {
  if (!(await haveOpenssl("the openssl leaf checks"))) return;
  await inTempDir(async (dir) => {
    for (const [f, text] of Object.entries(LEGACY_CA_FILES)) await Deno.writeTextFile(join(dir, f), text);
    const wc = await (await BuiltinCa.load(dir)).sign(LEGACY_IDENTITY, 3_600_000, LEGACY_NOW);
    await Deno.writeTextFile(join(dir, "leaf.pem"), wc.certChainPem[0]);
    await Deno.writeTextFile(join(dir, "legacy.pem"), LEGACY_LEAF_SHORT);
    const text = await openssl(["x509", "-in", "leaf.pem", "-noout", "-text"], dir);
    const legacy = await openssl(["x509", "-in", "legacy.pem", "-noout", "-text"], dir);
    assert.equal(extensionsText(text), extensionsText(legacy));
    assert.match(extensionsText(text), /Basic Constraints: critical\n\s*CA:FALSE\n/);
    assert.match(extensionsText(text), /Key Usage: critical\n\s*Digital Signature, Key Encipherment\n/);
    assert.match(
      extensionsText(text),
      /Extended Key Usage: \n\s*TLS Web Server Authentication, TLS Web Client Authentication\n/,
    );
    assert.match(extensionsText(text), /Authority Key Identifier: \n\s*[0-9A-F:]{59}\n/);
    assert.match(
      extensionsText(text),
      /Subject Alternative Name: critical\n\s*URI:spiffe:\/\/legacy\.example\/ns\/ns\/sa\/sa$/,
    );
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /^\s*Subject: ?\n/m);
    assert.match(text, /Issuer: O = legacy\.example, CN = zt intermediate CA [0-9a-f]{8}\n/);
    assert.match(text, /Not Before: Mar {2}4 05:05:07 2027 GMT\n\s*Not After : Mar {2}4 06:06:07 2027 GMT/);
    assert.equal(text.match(/Signature Algorithm: ecdsa-with-SHA256/g)?.length, 2);
    assert.match(text, /ASN1 OID: prime256v1/);
    await verifyLeaf(dir, ["-attime", String(LEGACY_NOW.getTime() / 1000)]);
    // Outside its validity the same leaf is refused: openssl really checks the dates we wrote.
    await openssl(
      ["verify", "-CAfile", CA_FILES.rootCert, "-untrusted", CA_FILES.caCert, "leaf.pem"],
      dir,
      true,
    );
  });
});

Deno.test("openssl: initCaDir's root and intermediate are strict-valid CAs; their leaves verify", async () => {
  if (!(await haveOpenssl("the openssl CA checks"))) return;
  await inTempDir(async (dir) => {
    await initCaDir(dir, { trustDomain: "example.org", validityDays: 30 });
    const wc = await (await BuiltinCa.load(dir)).sign(id, 3_600_000);
    await Deno.writeTextFile(join(dir, "leaf.pem"), wc.certChainPem[0]);
    await verifyLeaf(dir);
    const root = await openssl(["x509", "-in", CA_FILES.rootCert, "-noout", "-text"], dir);
    const ca = await openssl(["x509", "-in", CA_FILES.caCert, "-noout", "-text"], dir);
    assert.match(root, /Issuer: O = example\.org, CN = zt root CA [0-9a-f]{8}\n/);
    assert.match(extensionsText(root), /Basic Constraints: critical\n\s*CA:TRUE\n/);
    assert.match(extensionsText(root), /Key Usage: critical\n\s*Certificate Sign, CRL Sign\n/);
    assert.match(extensionsText(ca), /Basic Constraints: critical\n\s*CA:TRUE, pathlen:0\n/);
    assert.match(
      extensionsText(ca),
      /Key Usage: critical\n\s*Digital Signature, Certificate Sign, CRL Sign\n/,
    );
    const ski = (t: string) => /Subject Key Identifier: \n\s*([0-9A-F:]+)\n/.exec(t)?.[1];
    const aki = (t: string) => /Authority Key Identifier: \n\s*(?:keyid:)?([0-9A-F:]+)\n/.exec(t)?.[1];
    assert.ok(ski(root) && ski(ca) && ski(root) !== ski(ca));
    assert.equal(aki(ca), ski(root));
    const leafText = await openssl(["x509", "-in", "leaf.pem", "-noout", "-text"], dir);
    assert.equal(aki(leafText), ski(ca));
    // The SKI is RFC 5280 method 1: SHA-1 of the public key bits (a P-256 point: the SPKI's last 65 bytes).
    const spki = new X509Certificate(await Deno.readTextFile(join(dir, CA_FILES.caCert))).publicKey
      .export({ type: "spki", format: "der" });
    const sha1 = createHash("sha1").update(spki.subarray(-65)).digest("hex");
    assert.equal(ski(ca)!.replace(/:/g, "").toLowerCase(), sha1);
    await openssl(["verify", "-x509_strict", "-CAfile", CA_FILES.rootCert, CA_FILES.caCert], dir);
  });
});

Deno.test("openssl: a P-384 plug-in CA signs with ecdsa-with-SHA384", async () => {
  if (!(await haveOpenssl("the P-384 CA test"))) return;
  await inTempDir(async (dir) => {
    const run = (cmd: string) => openssl(cmd.split(" "), dir);
    const ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes";
    await Deno.writeTextFile(
      join(dir, "ext.cnf"),
      "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
    );
    await run(
      `req -x509 ${ec} -keyout root-key.pem -out ${CA_FILES.rootCert} -subj /CN=Root -days 2 ` +
        "-addext keyUsage=critical,keyCertSign,cRLSign",
    );
    await run(`req -new ${ec} -keyout ${CA_FILES.caKey} -out ca.csr -subj /CN=Intermediate`);
    await run(
      `x509 -req -in ca.csr -CA ${CA_FILES.rootCert} -CAkey root-key.pem -CAcreateserial ` +
        `-out ${CA_FILES.caCert} -days 2 -extfile ext.cnf`,
    );
    const caPem = await Deno.readTextFile(join(dir, CA_FILES.caCert));
    await Deno.writeTextFile(
      join(dir, CA_FILES.certChain),
      caPem + await Deno.readTextFile(join(dir, CA_FILES.rootCert)),
    );
    const wc = await (await BuiltinCa.load(dir)).sign(id, 60_000);
    await Deno.writeTextFile(join(dir, "leaf.pem"), wc.certChainPem[0]);
    await verifyLeaf(dir);
    const text = await openssl(["x509", "-in", "leaf.pem", "-noout", "-text"], dir);
    assert.equal(text.match(/Signature Algorithm: ecdsa-with-SHA384/g)?.length, 2);
    assert.match(extensionsText(text), /Authority Key Identifier/, "AKI from the openssl CA's SKI");
  });
});

Deno.test("openssl: signCsr takes openssl-made RSA and P-384 CSRs and issues for the CSR's key", async () => {
  if (!(await haveOpenssl("the openssl CSR test"))) return;
  await inTempDir(async (dir) => {
    await initCaDir(dir, { validityDays: 2 });
    const ca = await BuiltinCa.load(dir);
    const keys: Record<string, string> = {
      rsa: "-newkey rsa:2048",
      p384: "-newkey ec -pkeyopt ec_paramgen_curve:P-384",
    };
    for (const [kind, newkey] of Object.entries(keys)) {
      const cmd = `req -new ${newkey} -nodes -keyout ${kind}.key -out ${kind}.csr -subj /CN=ignored`;
      await openssl(cmd.split(" "), dir);
      const chain = await ca.signCsr(await Deno.readTextFile(join(dir, `${kind}.csr`)), id, 60_000);
      await Deno.writeTextFile(join(dir, "leaf.pem"), chain[0]);
      await verifyLeaf(dir);
      const leafKey = await openssl(["x509", "-in", "leaf.pem", "-noout", "-pubkey"], dir);
      const csrKey = await openssl(["req", "-in", `${kind}.csr`, "-noout", "-pubkey"], dir);
      assert.equal(leafKey, csrKey, `${kind}: the leaf carries the CSR's key`);
      const text = await openssl(["x509", "-in", "leaf.pem", "-noout", "-text"], dir);
      assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep/);
      assert.doesNotMatch(text, /CN ?= ?ignored/);
    }
    // And createCsr's output passes openssl's own CSR check (csr_test.ts has the details).
    await Deno.writeTextFile(join(dir, "zt.csr"), (await createCsr(id)).csrPem);
    assert.match(await openssl(["req", "-in", "zt.csr", "-noout", "-verify"], dir), /verif(y|ication) OK/i);
  });
});
