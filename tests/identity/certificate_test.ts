import assert from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import {
  certDump,
  normalizeSerial,
  parseCertInfo,
  rfc3339,
  splitPemBundle,
  workloadCertificateFromChain,
} from "../../lib/identity/certificate.ts";
import { makeTestPki } from "../fakes/test_pki.ts";

const sleepId = { trustDomain: "cluster.local", namespace: "default", serviceAccount: "sleep" };

Deno.test("splitPemBundle returns each certificate, ignores other blocks and CRLF", async () => {
  const pki = await makeTestPki();
  try {
    const leaf = await pki.issue("default", "sleep");
    const bundle = [
      "junk before\r\n",
      leaf.certChainPem[0].replace(/\n/g, "\r\n"),
      leaf.keyPem,
      leaf.certChainPem[1],
      pki.ca.rootsPem[0],
    ].join("");
    const parts = splitPemBundle(bundle);
    assert.equal(parts.length, 3);
    assert.deepEqual(parts, [leaf.certChainPem[0], leaf.certChainPem[1], pki.ca.rootsPem[0]]);
    for (const p of parts) {
      assert.match(p, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    }
    assert.deepEqual(splitPemBundle("no pem here"), []);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("parseCertInfo reads a leaf and a CA", async () => {
  const pki = await makeTestPki({ trustDomain: "example.org" });
  try {
    const leaf = await pki.issue("ns1", "sa1");
    const info = parseCertInfo(leaf.certChainPem[0]);
    assert.deepEqual(info.identities, ["spiffe://example.org/ns/ns1/sa/sa1"]);
    assert.equal(info.isCa, false);
    assert.equal(info.subject, "");
    assert.match(info.issuer, /CN=zt intermediate CA/);
    assert.match(info.serialNumber, /^[0-9a-f]+$/);
    assert.equal(info.serialNumber, leaf.serialNumber);
    assert.equal(info.notAfter.getTime(), leaf.notAfter.getTime());
    assert.equal(info.notBefore.getTime(), leaf.notBefore.getTime());

    const root = parseCertInfo(pki.ca.rootsPem[0]);
    assert.equal(root.isCa, true);
    assert.equal(root.subject, root.issuer);
    assert.match(root.subject, /O=example\.org/);
    assert.deepEqual(root.identities, []);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("parseCertInfo rejects non-certificates with ZtError(cert)", () => {
  assert.throws(() => parseCertInfo("hello"), (e) => e instanceof ZtError && e.kind === "cert");
  assert.throws(
    () => parseCertInfo("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    (e) => e instanceof ZtError && e.kind === "cert",
  );
});

Deno.test("normalizeSerial strips colons, case and leading zero bytes", () => {
  assert.equal(normalizeSerial("00:AB:cd"), "abcd");
  assert.equal(normalizeSerial("0000ff"), "ff");
  assert.equal(normalizeSerial("00"), "00");
  assert.equal(normalizeSerial("abc"), "0abc");
});

Deno.test("certDump has ztunnel's shape: base64 PEM, decimal serial, RFC3339 seconds", async () => {
  const pki = await makeTestPki();
  try {
    const leaf = await pki.issue("default", "sleep");
    const d = certDump(leaf.certChainPem[0]);
    assert.deepEqual(Object.keys(d), ["pem", "serialNumber", "validFrom", "expirationTime"]);
    assert.equal(atob(d.pem), leaf.certChainPem[0]);
    assert.match(d.serialNumber, /^[0-9]+$/);
    assert.equal(BigInt(d.serialNumber), BigInt("0x" + leaf.serialNumber));
    assert.match(d.validFrom, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(new Date(d.validFrom).getTime(), leaf.notBefore.getTime());
    assert.equal(new Date(d.expirationTime).getTime(), leaf.notAfter.getTime());
    assert.equal(rfc3339(new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678))), "2030-01-02T03:04:05Z");
  } finally {
    await pki.cleanup();
  }
});

Deno.test("workloadCertificateFromChain splits concatenated roots and checks the identity", async () => {
  const a = await makeTestPki();
  const b = await makeTestPki();
  try {
    const leaf = await a.issue("default", "sleep");
    const chain = [...leaf.certChainPem, a.ca.rootsPem[0] + b.ca.rootsPem[0]];
    const wc = workloadCertificateFromChain(leaf.keyPem, chain, sleepId);
    assert.deepEqual(wc.identity, sleepId);
    assert.deepEqual(wc.certChainPem, leaf.certChainPem);
    assert.deepEqual(wc.rootsPem, [a.ca.rootsPem[0], b.ca.rootsPem[0]]);
    assert.equal(wc.serialNumber, leaf.serialNumber);
    assert.equal(wc.notAfter.getTime(), leaf.notAfter.getTime());

    const other = { ...sleepId, serviceAccount: "other" };
    assert.throws(
      () => workloadCertificateFromChain(leaf.keyPem, chain, other),
      (e) => e instanceof ZtError && e.kind === "cert" && /does not match/.test(e.message),
    );
    assert.throws(
      () => workloadCertificateFromChain(leaf.keyPem, [leaf.certChainPem[0]]),
      (e) => e instanceof ZtError && e.kind === "cert",
    );
    // A "leaf" without a SPIFFE SAN (the intermediate) is refused.
    assert.throws(
      () => workloadCertificateFromChain(leaf.keyPem, [leaf.certChainPem[1], a.ca.rootsPem[0]]),
      (e) => e instanceof ZtError && /no SPIFFE identity/.test(e.message),
    );
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});
