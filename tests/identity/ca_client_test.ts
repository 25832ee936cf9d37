/** IstioCaClient over a real GrpcChannel against the fake istiod's CA, and behind a CertManager. */
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { ZtError } from "../../lib/error.ts";
import { IstioCaClient } from "../../lib/identity/ca_client.ts";
import { CertManager } from "../../lib/identity/cert_manager.ts";
import { createPrivateKey, sign, verify, X509Certificate } from "node:crypto";
import { GrpcChannel } from "../../lib/xds/grpc_channel.ts";
import { structToJson } from "../../lib/xds/proto.ts";
import {
  failingCaHandler,
  FakeIstiod,
  signingCaHandler,
  wrongIdentityCaHandler,
} from "../fakes/fake_istiod.ts";
import { makeTestPki } from "../fakes/test_pki.ts";

const ID = { trustDomain: "cluster.local", namespace: "shop", serviceAccount: "cart" };

async function fixture() {
  const pki = await makeTestPki();
  const f = await FakeIstiod.start({ caHandler: signingCaHandler(pki.ca) });
  const channel = new GrpcChannel({
    address: f.address,
    rootCa: { kind: "pem", pem: f.caPem },
    auth: { kind: "static", token: "node-token", clusterId: "Kubernetes" },
  });
  return {
    pki,
    f,
    channel,
    async close() {
      channel.close();
      await f.close();
      await pki.cleanup();
    },
  };
}

Deno.test("CreateCertificate: P-256 CSR, validity in seconds, impersonated identity, chain split", async () => {
  const x = await fixture();
  try {
    const client = new IstioCaClient({ channel: x.channel, ttlMs: 90_000 });
    const cert = await client.fetch(ID);
    assert.deepEqual(cert.identity, ID);
    assert.deepEqual(cert.rootsPem, x.pki.ca.rootsPem, "roots come from the chain's last element");
    assert.equal(cert.certChainPem.length, 1 + x.pki.ca.intermediatesPem.length);
    const leaf = new X509Certificate(cert.certChainPem[0]);
    assert.equal(leaf.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/cart");
    assert.ok(
      cert.notAfter.getTime() - Date.now() > 85_000 && cert.notAfter.getTime() - Date.now() <= 90_000,
    );
    const key = createPrivateKey(cert.keyPem);
    assert.equal(key.asymmetricKeyType, "ec");
    assert.equal(key.asymmetricKeyDetails?.namedCurve, "prime256v1", "a P-256 key");
    const msg = new TextEncoder().encode("proof of possession");
    assert.ok(verify("sha256", msg, leaf.publicKey, sign("sha256", msg, key)), "the key matches the leaf");

    const req = x.f.caRequests[0];
    assert.equal(req.request.validityDuration, 90);
    assert.deepEqual(structToJson(req.request.metadata), {
      ImpersonatedIdentity: "spiffe://cluster.local/ns/shop/sa/cart",
    });
    assert.equal(req.headers.authorization, "Bearer node-token");
    assert.equal(req.headers.clusterid, "Kubernetes");

    const plain = new IstioCaClient({ channel: x.channel, ttlMs: 1500, impersonate: false });
    assert.equal(plain.request(ID, "csr").metadata, null, "dedicated mode sends no metadata");
    assert.equal(plain.request(ID, "csr").validityDuration, 2, "rounded to whole seconds");
  } finally {
    await x.close();
  }
});

Deno.test("a certificate for another identity is refused; CA errors name the status", async () => {
  const x = await fixture();
  try {
    const client = new IstioCaClient({ channel: x.channel, ttlMs: 60_000 });
    x.f.setCaHandler(wrongIdentityCaHandler(x.pki.ca, { ...ID, serviceAccount: "admin" }));
    await assert.rejects(
      client.fetch(ID),
      (e: unknown) =>
        e instanceof ZtError && e.kind === "cert" &&
        e.message ===
          "leaf identity spiffe://cluster.local/ns/shop/sa/admin does not match requested spiffe://cluster.local/ns/shop/sa/cart",
    );
    x.f.setCaHandler(failingCaHandler(status.PERMISSION_DENIED, "not a trusted node account"));
    await assert.rejects(
      client.fetch(ID),
      (e: unknown) =>
        e instanceof ZtError && e.kind === "ca" &&
        e.message === "CreateCertificate failed: PERMISSION_DENIED: not a trusted node account",
    );
    x.f.setCaHandler(() => Promise.resolve([]));
    await assert.rejects(client.fetch(ID), /CA chain has 0 element\(s\)/);

    // Behind the cert manager: Unavailable with the reason, retried, then Available once the CA is fixed.
    x.f.setCaHandler(wrongIdentityCaHandler(x.pki.ca, { ...ID, serviceAccount: "admin" }));
    const certs = new CertManager({ source: client, maxBackoffMs: 1_000 });
    try {
      await assert.rejects(certs.get(ID), /does not match requested/);
      assert.match(certs.state(ID)!, /^Unavailable: leaf identity .*admin does not match requested/);
      x.f.setCaHandler(signingCaHandler(x.pki.ca));
      const deadline = Date.now() + 5_000;
      while (certs.state(ID) !== "Available" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(certs.state(ID), "Available");
    } finally {
      certs.close();
    }
  } finally {
    await x.close();
  }
});

Deno.test("a TTL the Istio CA shortens (and backdates) is renewed at half of what was issued", async () => {
  const x = await fixture();
  try {
    // Asked for an hour, the CA signs 4 s (notBefore a minute back, as istiod backdates by two).
    const requested: number[] = [];
    x.f.setCaHandler((req) => {
      requested.push(req.validityDuration);
      return x.pki.ca.signCsr(req.csr, ID, 4_000);
    });
    const client = new IstioCaClient({ channel: x.channel, ttlMs: 3_600_000 });
    const certs = new CertManager({ source: client });
    try {
      const times: number[] = [];
      const t0 = performance.now();
      certs.onChange((c) => c.certificate && times.push(performance.now() - t0));
      const first = await certs.get(ID);
      assert.ok(first.notBefore.getTime() < Date.now() - 50_000, "backdated");
      assert.ok(first.issuedAt!.getTime() <= Date.now() && first.issuedAt! > first.notBefore);
      await new Promise((r) => setTimeout(r, 3_200));
      assert.deepEqual(requested.slice(0, 2), [3600, 3600]);
      // 3-4 s of real life: renewed after 1.5-2 s, once in 3.2 s (not each second, not after 30 minutes).
      assert.equal(times.length, 2, `certificates at ${times.map(Math.round)} ms`);
      assert.ok(times[1] >= 1_400 && times[1] < 2_600, `renewed after ${times[1]} ms`);
    } finally {
      certs.close();
    }
  } finally {
    await x.close();
  }
});
