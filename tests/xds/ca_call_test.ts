/** The Istio CA call over GrpcChannel against the fake istiod's scriptable CA. */
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { certIdentity, parseCertificate, parseCertInfo } from "../../lib/identity/certificate.ts";
import { createCsr } from "../../lib/identity/csr.ts";
import { formatIdentity } from "../../lib/identity/spiffe.ts";
import { GrpcChannel } from "../../lib/xds/grpc_channel.ts";
import {
  certificateRequestCodec,
  certificateResponseCodec,
  CREATE_CERTIFICATE_METHOD,
  type IstioCertificateResponse,
  jsonToStruct,
} from "../../lib/xds/proto.ts";
import {
  failingCaHandler,
  FakeIstiod,
  signingCaHandler,
  wrongIdentityCaHandler,
} from "../fakes/fake_istiod.ts";
import { makeTestPki } from "../fakes/test_pki.ts";

const ID = { trustDomain: "cluster.local", namespace: "ns1", serviceAccount: "web" };

async function createCertificate(ch: GrpcChannel): Promise<IstioCertificateResponse> {
  const csr = await createCsr(ID);
  return ch.unary(
    CREATE_CERTIFICATE_METHOD,
    (m) => certificateRequestCodec.encode(m),
    (b) => certificateResponseCodec.decode(b),
    {
      csr: csr.csrPem,
      validityDuration: 3600,
      metadata: jsonToStruct({ ImpersonatedIdentity: formatIdentity(ID) }),
    },
    { timeoutMs: 5000 },
  );
}

Deno.test("the fake CA signs, returns a wrong identity, or fails, as scripted", async () => {
  const pki = await makeTestPki();
  const f = await FakeIstiod.start({ caHandler: signingCaHandler(pki.ca) });
  const ch = new GrpcChannel({
    address: f.address,
    rootCa: { kind: "pem", pem: f.caPem },
    auth: { kind: "static", token: "jwt", clusterId: "Kubernetes" },
    headers: new Map([["x-ca", "1"]]),
  });
  try {
    const signed = await createCertificate(ch);
    assert.ok(signed.certChain.length >= 2, "leaf, [intermediates,] then the root(s)");
    const leaf = parseCertificate(signed.certChain[0]);
    assert.deepEqual(certIdentity(leaf), ID);
    const issuer = parseCertificate(signed.certChain[1]);
    assert.ok(leaf.verify(issuer.publicKey));
    assert.deepEqual(signed.certChain.at(-1), pki.ca.rootsPem.join(""));
    const { notBefore, notAfter } = parseCertInfo(leaf);
    const validity = notAfter.getTime() - notBefore.getTime();
    assert.ok(validity > 3_500_000 && validity < 3_800_000, `validity ${validity}`);
    const req = f.caRequests[0];
    assert.equal(req.request.validityDuration, 3600);
    assert.match(req.request.csr, /BEGIN CERTIFICATE REQUEST/);
    assert.equal(req.headers.authorization, "Bearer jwt");
    assert.equal(req.headers.clusterid, "Kubernetes");
    assert.equal(req.headers["x-ca"], "1");

    const other = { trustDomain: "cluster.local", namespace: "evil", serviceAccount: "x" };
    f.setCaHandler(wrongIdentityCaHandler(pki.ca, other));
    const wrong = await createCertificate(ch);
    assert.deepEqual(certIdentity(parseCertificate(wrong.certChain[0])), other);

    f.setCaHandler(failingCaHandler(status.PERMISSION_DENIED, "not a trusted node account"));
    await assert.rejects(
      createCertificate(ch),
      (e: { code?: number; details?: string }) =>
        e.code === status.PERMISSION_DENIED && e.details === "not a trusted node account",
    );
  } finally {
    ch.close();
    await f.close();
    await pki.cleanup();
  }
});
