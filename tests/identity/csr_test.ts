import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { workloadCertificateFromChain } from "../../lib/identity/certificate.ts";
import { createCsr } from "../../lib/identity/csr.ts";
import { makeTestPki } from "../fakes/test_pki.ts";

const id = { trustDomain: "td", namespace: "ns", serviceAccount: "sa" };

Deno.test("createCsr: empty subject, one critical URI SAN, P-256, SHA-256, valid signature", async () => {
  const { csrPem, keyPem } = await createCsr(id);
  assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  assert.equal(csr.subject, "");
  assert.equal(csr.extensions.length, 1);
  const san = csr.extensions[0];
  assert.equal(san.type, "2.5.29.17");
  assert.equal(san.critical, true);
  const names = new x509.SubjectAlternativeNameExtension(san.rawData).names.items;
  assert.deepEqual(names.map((n) => [n.type, n.value]), [["url", "spiffe://td/ns/ns/sa/sa"]]);
  assert.deepEqual(csr.publicKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
  assert.equal((csr.signatureAlgorithm as EcdsaParams & { hash: Algorithm }).hash.name, "SHA-256");
  assert.equal(await csr.verify(crypto), true);

  // The private key is PKCS#8 and belongs to the CSR's public key.
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  const priv = await crypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(keyPem),
    alg,
    false,
    ["sign"],
  );
  const pub = await csr.publicKey.export(alg, ["verify"], crypto);
  const data = new TextEncoder().encode("probe");
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, priv, data);
  assert.equal(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, sig, data), true);
});

Deno.test("createCsr uses a fresh key each time", async () => {
  const a = await createCsr(id);
  const b = await createCsr(id);
  assert.notEqual(a.keyPem, b.keyPem);
});

Deno.test("createCsr output passes `openssl req -verify` with an empty subject and critical SAN", async () => {
  let run: Deno.CommandOutput;
  const { csrPem } = await createCsr(id);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/csr.pem`, csrPem);
    try {
      run = await new Deno.Command("openssl", {
        args: ["req", "-in", `${dir}/csr.pem`, "-noout", "-text", "-verify", "-subject"],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        console.log("openssl not found; skipping the openssl CSR check");
        return;
      }
      throw e;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const out = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 0, out);
  assert.match(out, /verify OK/);
  assert.match(out, /^\s*Subject:\s*$/m);
  assert.match(out, /^subject=\s*$/m);
  assert.match(out, /X509v3 Subject Alternative Name: critical\n\s*URI:spiffe:\/\/td\/ns\/ns\/sa\/sa\n/);
  assert.match(out, /prime256v1/);
  assert.match(out, /ecdsa-with-SHA256/);
});

Deno.test("a CSR from createCsr is signed by the built-in CA into a usable workload certificate", async () => {
  const pki = await makeTestPki({ trustDomain: "td" });
  try {
    const { csrPem, keyPem } = await createCsr(id);
    const chain = await pki.ca.signCsr(csrPem, id, 60_000);
    const wc = workloadCertificateFromChain(keyPem, chain, id);
    assert.deepEqual(wc.identity, id);
    assert.deepEqual(wc.rootsPem, pki.ca.rootsPem);
    const leaf = new x509.X509Certificate(wc.certChainPem[0]);
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    assert.equal(leaf.publicKey.equal(csr.publicKey), true);
  } finally {
    await pki.cleanup();
  }
});
