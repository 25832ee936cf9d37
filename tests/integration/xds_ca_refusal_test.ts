/**
 * An Istio CA that signs the wrong identity: a real zt node in xDS mode refuses the certificate (logs
 * it, config_dump shows Unavailable with the reason, the pod is not served, readiness stays 500 on
 * "certificates"), keeps retrying with backoff, and becomes ready once the CA signs correctly.
 * The fake istiod's certificate names only `istiod.istio-system.svc`, reached at 127.0.0.1 through
 * ALT_XDS_HOSTNAME / ALT_CA_HOSTNAME.
 */
import assert from "node:assert/strict";
import { signingCaHandler, wrongIdentityCaHandler } from "../fakes/fake_istiod.ts";
import { podResource } from "../fakes/xds_resources.ts";
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  certificates,
  startXdsMesh,
  until,
} from "../fakes/xds_mesh.ts";
import { structToJson } from "../../lib/xds/proto.ts";

const C = { name: "xds-c", ip: "127.50.3.1" };
const NS = "xds-demo";
const WEB = "127.50.3.2";
const WEB_ID = `spiffe://cluster.local/ns/${NS}/sa/web`;
const INTRUDER = { trustDomain: "cluster.local", namespace: NS, serviceAccount: "intruder" };

Deno.test("xds: a certificate for the wrong identity is refused; the node stays not ready", async () => {
  // istiod's serving certificate names only its service: the node accepts it through ALT_*_HOSTNAME.
  const mesh = await startXdsMesh({
    caHandler: (pki) => wrongIdentityCaHandler(pki.ca, INTRUDER),
    altHostname: "istiod.istio-system.svc",
  });
  const node = await mesh.startNode(C);
  try {
    await mesh.initialRequests(1);
    await mesh.push(ADDRESS_TYPE_URL, [podResource({ name: "web", namespace: NS, ip: WEB, node: C.name })]);
    await mesh.push(AUTHORIZATION_TYPE_URL, []);

    const log = await node.waitForLog((l) => l.message === "failed to fetch certificate", 15_000);
    const reason =
      `leaf identity spiffe://cluster.local/ns/${NS}/sa/intruder does not match requested ${WEB_ID}`;
    assert.equal(log.identity, WEB_ID);
    assert.equal(log.error, reason);
    assert.equal(log.level, "warn");
    const [cert] = await certificates(node);
    assert.deepEqual(cert, {
      identity: WEB_ID,
      state: `Unavailable: ${reason}`,
      certChain: [],
      rootCerts: [],
    });
    assert.ok(
      structToJson(mesh.istiod.caRequests[0].request.metadata).ImpersonatedIdentity === WEB_ID,
      "the node asked for web's identity",
    );
    const probe = await node.probe();
    assert.equal(probe.status, 500);
    assert.equal(
      probe.body,
      "not ready, pending: certificates, proxy",
      "xDS is synced; certificates are not",
    );
    await assert.rejects(
      Deno.connect({ hostname: WEB, port: 15008 }),
      "no HBONE listener without a certificate",
    );

    // Retried with backoff: more requests arrive, all refused, still not ready.
    await until(() => mesh.istiod.caRequests.length >= 2, "a retry", 5_000);
    assert.equal((await node.probe()).status, 500);

    mesh.istiod.setCaHandler(signingCaHandler(mesh.pki.ca));
    await node.ready(20_000);
    const [ok] = await certificates(node);
    assert.equal(ok.state, "Available");
    assert.equal(atob(ok.rootCerts[0].pem), mesh.pki.ca.rootsPem[0]);
    const conn = await until(
      () => Deno.connect({ hostname: WEB, port: 15008 }).catch(() => undefined),
      "web's HBONE listener",
    );
    conn.close();
  } finally {
    const code = await node.stop();
    await mesh.close();
    assert.equal(code, 0);
  }
});
