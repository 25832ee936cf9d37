/**
 * xDS mode end to end: two real zt nodes configured only by a fake istiod (Delta ADS + Istio CA over
 * TLS, bearer token from a file). Readiness waits for the first ACK of both types; traffic flows
 * SOCKS5 → HBONE with CA-issued certificates; workload updates, service removal, policy push and
 * removal take effect live; a malformed resource is NACKed by name while the rest applies; istiod
 * killed and restarted (traffic keeps flowing, the client resumes with initial_resource_versions);
 * certificates rotate at half-life under a live connection.
 */
import assert from "node:assert/strict";
import { startEchoServer } from "../fakes/echo_server.ts";
import { socks5Connect } from "../fakes/socks5_client.ts";
import { pattern, sameBytes } from "../fakes/mesh_config.ts";
import { podResource, podUid, policyResource, serviceResource } from "../fakes/xds_resources.ts";
import { signingCaHandler } from "../fakes/fake_istiod.ts";
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  certificates,
  echoOnce,
  socksEcho,
  startXdsMesh,
  stateDump as dump,
  TOKEN,
  until,
} from "../fakes/xds_mesh.ts";
import { structToJson } from "../../lib/xds/proto.ts";
import { X509Certificate } from "node:crypto";
import type { NodeProcess } from "../fakes/zt_node.ts";

const A = { name: "xds-a", ip: "127.50.0.1" };
const B = { name: "xds-b", ip: "127.50.0.2" };
const NS = "xds-demo";
const SLEEP = "127.50.1.1";
const ECHO_1 = "127.50.1.2";
const ECHO_2 = "127.50.2.2";
const EXTRA = "127.50.2.9";
/** A loopback VIP: once the service is gone, passthrough to it is refused at once (0x05). */
const VIP = "127.50.9.1";
const SVC = `${NS}/echo.${NS}.svc.cluster.local`;
/** Requested; the fake istiod's CA shortens every leaf to ISSUED_TTL_S (and backdates it by 60 s). */
const SECRET_TTL_S = 64;
/** What the CA issues: renewal is at half of it, about 2 s after issuance (not half of the 64 s asked). */
const ISSUED_TTL_S = 4;

const echoServices = { [SVC]: { 7000: 7070 } };
const sleep = { name: "sleep", namespace: NS, ip: SLEEP, node: A.name };
const echo1 = { name: "echo-1", namespace: NS, ip: ECHO_1, node: A.name, services: echoServices };
const echo2 = { name: "echo-2", namespace: NS, ip: ECHO_2, node: B.name, services: echoServices };
const echoSvc = { name: "echo", namespace: NS, vip: VIP, ports: { 7000: 7070 } };
const DENY = policyResource({
  name: "deny-sleep",
  namespace: NS,
  scope: 2,
  action: 1,
  matches: [{ principals: [{ exact: `cluster.local/ns/${NS}/sa/sleep` }] }],
});

const connect = (host: string, port: number, seed = 1) => socksEcho(SLEEP, host, port, seed);

Deno.test("xds: two nodes configured by a fake istiod", async (t) => {
  const mesh = await startXdsMesh({
    caHandler: (p) => {
      const sign = signingCaHandler(p.ca);
      return (req, headers) => sign({ ...req, validityDuration: ISSUED_TTL_S }, headers);
    },
  });
  const { istiod } = mesh;
  const echoA = startEchoServer(ECHO_1, 7070);
  const echoB = startEchoServer(ECHO_2, 7070);
  const extra = startEchoServer(EXTRA, 7070);
  const env = {
    SECRET_TTL: `${SECRET_TTL_S}s`,
    ISTIO_META_ZT_TEST: "xds",
    PROXY_CONFIG: "proxyMetadata:\n  FROM_PROXY_CONFIG: 'yes'\n",
  };
  const nodes = await Promise.all([A, B].map((n) => mesh.startNode(n, env)));
  const [nodeA, nodeB] = nodes;
  try {
    await t.step("readiness: 500 until the first ACK of both types, then 200", async () => {
      const initial = await mesh.initialRequests(2);
      const a = initial.find((r) => r.request.node?.id.includes(A.ip))!;
      assert.equal(
        a.request.node!.id,
        `ztunnel~${A.ip}~ztunnel-${A.name}.istio-system~istio-system.svc.cluster.local`,
      );
      const meta = structToJson(a.request.node!.metadata);
      assert.equal(meta.NODE_NAME, A.name);
      assert.equal(meta.ZT_TEST, "xds");
      assert.equal(meta.FROM_PROXY_CONFIG, "yes");
      assert.equal(a.headers.authorization, `Bearer ${TOKEN}`);
      assert.deepEqual(
        initial.filter((r) => r.stream === a.stream).map((r) => r.request.typeUrl),
        [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL],
      );
      for (const n of nodes) assert.match((await n.probe()).body, /pending: .*state manager/);

      const acks = await mesh.push(ADDRESS_TYPE_URL, [
        podResource(sleep),
        podResource(echo1),
        podResource(echo2),
        serviceResource(echoSvc),
      ]);
      assert.ok(acks.every((r) => !r.request.errorDetail), "Address ACKed");
      await new Promise((r) => setTimeout(r, 300));
      for (const n of nodes) {
        const p = await n.probe();
        assert.equal(p.status, 500, "still not ready: Authorization not ACKed yet");
        assert.match(p.body, /state manager/);
      }
      await mesh.push(AUTHORIZATION_TYPE_URL, []);
      await Promise.all(nodes.map((n) => n.ready(15_000)));
      for (const n of nodes) assert.deepEqual(await n.probe(), { status: 200, body: "ready" });
    });

    await t.step("traffic flows SOCKS5 → HBONE with certificates from istiod's CA", async () => {
      for (let i = 0; i < 4; i++) assert.equal(await connect(VIP, 7000, i), 0);
      assert.equal(echoA.accepted, 2);
      assert.equal(echoB.accepted, 2);
      const inbound = await nodeB.waitForLog((l) =>
        l.message === "connection complete" && l.direction === "inbound"
      );
      assert.equal(inbound["src.identity"], `spiffe://cluster.local/ns/${NS}/sa/sleep`);

      const root = mesh.pki.ca.rootsPem[0];
      const rootCert = new X509Certificate(root);
      for (const [node, ids] of [[nodeA, ["echo", "sleep"]], [nodeB, ["echo"]]] as const) {
        const certs = await certificates(node);
        assert.deepEqual(
          certs.map((c) => c.identity),
          ids.map((sa) => `spiffe://cluster.local/ns/${NS}/sa/${sa}`),
        );
        for (const c of certs) {
          assert.equal(c.state, "Available");
          assert.equal(atob(c.rootCerts[0].pem), root, "the root is the fake CA's");
          // leaf ← intermediates ← the fake CA's root, each signature checked (node:crypto).
          const chain = [...c.certChain.map((d) => new X509Certificate(atob(d.pem))), rootCert];
          assert.ok(chain[0].subjectAltName?.includes("URI:spiffe://cluster.local/ns/"));
          for (let i = 0; i + 1 < chain.length; i++) {
            assert.ok(
              chain[i].checkIssued(chain[i + 1]) && chain[i].verify(chain[i + 1].publicKey),
              `chain[${i}]`,
            );
          }
        }
      }
      const sleepReq = istiod.caRequests.find((r) =>
        structToJson(r.request.metadata).ImpersonatedIdentity === `spiffe://cluster.local/ns/${NS}/sa/sleep`
      );
      assert.ok(sleepReq, "the node impersonated sleep");
      assert.equal(sleepReq.request.validityDuration, SECRET_TTL_S);
      assert.equal(sleepReq.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(sleepReq.headers.clusterid, "Kubernetes");
    });

    await t.step("a workload update takes effect live: echo-1 leaves the service", async () => {
      await mesh.push(ADDRESS_TYPE_URL, [podResource({ ...echo1, services: {}, version: "2" })]);
      const [a0, b0] = [echoA.accepted, echoB.accepted];
      for (let i = 0; i < 4; i++) assert.equal(await connect(VIP, 7000, 10 + i), 0);
      assert.equal(echoA.accepted - a0, 0, "no traffic to the removed endpoint");
      assert.equal(echoB.accepted - b0, 4);
      await mesh.push(ADDRESS_TYPE_URL, [podResource({ ...echo1, version: "3" })]);
    });

    await t.step("a service removal takes effect live; its endpoints wait for it again", async () => {
      await mesh.push(ADDRESS_TYPE_URL, [], [SVC]);
      assert.equal(await connect(VIP, 7000), 5, "the VIP is no longer a service: passthrough is refused");
      for (const n of nodes) {
        const d = await dump(n);
        assert.ok(!d.services.some((s) => s.hostname === `echo.${NS}.svc.cluster.local`));
        assert.ok(SVC in d.stagedServices, "endpoints staged");
      }
      await mesh.push(ADDRESS_TYPE_URL, [serviceResource({ ...echoSvc, version: "2" })]);
      assert.equal(await connect(VIP, 7000), 0);
    });

    await t.step("a policy push denies live (bound through the workload), its removal allows", async () => {
      const live = await socks5Connect({ ip: SLEEP, port: 15080 }, ECHO_2, 7070);
      assert.equal(live.reply, 0);
      assert.ok(sameBytes(await echoOnce(live.conn, pattern(100, 1)), pattern(100, 1)));
      await mesh.push(AUTHORIZATION_TYPE_URL, [DENY]);
      await mesh.push(ADDRESS_TYPE_URL, [
        podResource({ ...echo2, policies: [`${NS}/deny-sleep`], version: "2" }),
      ]);
      assert.equal(await connect(ECHO_2, 7070), 2, "denied: 0x02");
      assert.equal(await connect(ECHO_1, 7070), 0, "echo-1 does not list the policy");
      const buf = new Uint8Array(16);
      const closed = await Promise.race([
        live.conn.read(buf).then((n) => n === null, () => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
      ]);
      live.conn.close();
      assert.ok(closed, "the live connection the policy now denies was closed");
      const d = await dump(nodeB);
      assert.deepEqual(d.policies.map((p) => p.name), ["deny-sleep"]);

      await mesh.push(AUTHORIZATION_TYPE_URL, [], [`${NS}/deny-sleep`]);
      assert.equal(await connect(ECHO_2, 7070), 0, "allowed again");
      assert.deepEqual((await dump(nodeB)).policies, []);
    });

    await t.step("a malformed resource is NACKed by name; the rest of the push applies", async () => {
      const extraPod = { name: "extra-1", namespace: NS, ip: EXTRA, node: B.name };
      const replies = await mesh.push(ADDRESS_TYPE_URL, [
        { name: "broken", body: new Uint8Array([0x0a, 0xff, 0xff]) },
        podResource(extraPod),
        podResource({ ...sleep, name: "legacy", ip: "127.50.1.9", tunnelProtocol: 2 }),
      ]);
      assert.equal(replies.length, 2);
      for (const r of replies) {
        const msg = r.request.errorDetail?.message ?? "";
        assert.match(msg, /^broken: invalid istio\.workload\.Address/);
        assert.match(
          msg,
          /Kubernetes\/\/Pod\/xds-demo\/legacy: tunnel_protocol: LEGACY_ISTIO_MTLS is not supported/,
        );
        assert.ok(!msg.includes("extra-1"));
      }
      for (const n of nodes) {
        const uids = (await dump(n)).workloads.map((w) => w.uid);
        assert.ok(uids.includes(podUid(extraPod)));
        assert.ok(!uids.includes(podUid({ name: "legacy", namespace: NS })));
      }
      await until(async () => (await connect(EXTRA, 7070)) === 0, "the new pod served on node B");
    });

    await t.step(
      "istiod killed: traffic keeps flowing; restarted: resume with versions and resync",
      async () => {
        const live = await socks5Connect({ ip: SLEEP, port: 15080 }, ECHO_2, 7070);
        assert.equal(live.reply, 0);
        const since = istiod.requests.length;
        const streamsBefore = istiod.streamCount;
        await istiod.kill();
        await until(
          () => nodes.every((n) => n.logs.some((l) => String(l.message).startsWith("XDS client"))),
          "disconnect",
        );
        for (let i = 0; i < 3; i++) assert.equal(await connect(VIP, 7000, 20 + i), 0);
        assert.ok(sameBytes(await echoOnce(live.conn, pattern(5000, 2)), pattern(5000, 2)));
        for (const n of nodes) assert.equal((await n.probe()).status, 200, "still ready without istiod");
        await new Promise((r) => setTimeout(r, 1000));

        await istiod.restart();
        const initial = await mesh.initialRequests(2, since);
        assert.ok(initial.every((r) => r.stream > streamsBefore));
        for (const r of initial.filter((r) => r.request.typeUrl === ADDRESS_TYPE_URL)) {
          const v = r.request.initialResourceVersions ?? {};
          assert.equal(v[podUid(echo2)], "2");
          assert.equal(v[podUid(echo1)], "3");
          assert.equal(v[SVC], "2");
          assert.ok(!("broken" in v), "rejected resources are not claimed");
          assert.ok(!(podUid({ name: "legacy", namespace: NS }) in v));
        }
        for (const r of initial.filter((r) => r.request.typeUrl === AUTHORIZATION_TYPE_URL)) {
          assert.deepEqual(r.request.initialResourceVersions ?? {}, {}, "the removed policy is not claimed");
        }
        // istiod answers a resumed stream with what changed meanwhile: extra-1 is gone, echo-1 moved on.
        await mesh.push(ADDRESS_TYPE_URL, [podResource({ ...echo1, version: "4" })], [
          podUid({ name: "extra-1", namespace: NS }),
        ]);
        await mesh.push(AUTHORIZATION_TYPE_URL, []);
        const extraUid = podUid({ name: "extra-1", namespace: NS });
        await until(async () => {
          const dumps = await Promise.all(nodes.map(dump));
          return dumps.every((d) => !d.workloads.some((w) => w.uid === extraUid)) &&
            dumps.every((d) => d.workloads.find((w) => w.uid === podUid(echo1)));
        }, "extra-1 removed after the resync");
        // Node B stopped serving the removed pod: nothing listens on its HBONE port any more.
        await until(
          () => Deno.connect({ hostname: EXTRA, port: 15008 }).then((c) => (c.close(), false), () => true),
          "extra-1's listener closed",
        );
        assert.ok(
          sameBytes(await echoOnce(live.conn, pattern(300, 3)), pattern(300, 3)),
          "live connection survived",
        );
        live.conn.close();
        const metrics = await (await fetch(`http://${A.ip}:15020/metrics`)).text();
        assert.match(
          metrics,
          /istio_xds_connection_terminations_total\{reason="(Error|ConnectionError)"\} [1-9]/,
        );
        assert.match(
          metrics,
          /istio_xds_message_total\{url="type\.googleapis\.com\/istio\.workload\.Address"\} [1-9]/,
        );
      },
    );

    await t.step("certificates rotate at half-life under a live connection", async () => {
      const live = await socks5Connect({ ip: SLEEP, port: 15080 }, ECHO_2, 7070);
      assert.equal(live.reply, 0);
      const sleepId = `spiffe://cluster.local/ns/${NS}/sa/sleep`;
      const serial = async (n: NodeProcess, id: string) =>
        (await certificates(n)).find((c) => c.identity === id)?.certChain[0]?.serialNumber;
      const before = await serial(nodeA, sleepId);
      const seen = new Set([before]);
      await until(
        async () => {
          seen.add(await serial(nodeA, sleepId));
          return seen.size >= 3;
        },
        "two rotations of sleep's certificate",
        15_000,
      );
      const fetched = nodeA.logs.filter((l) => l.message === "certificate fetched" && l.identity === sleepId);
      // Each certificate is valid from its request (notBefore is 60 s earlier: not counted) to `expires`;
      // the node schedules the next fetch halfway.
      for (const l of fetched.slice(-3)) {
        const refreshAt = Date.parse(String(l.time)) + Number(l.refresh_in_ms);
        const issued = Date.parse(String(l.issued));
        const halfLife = issued + (Date.parse(String(l.expires)) - issued) / 2;
        assert.ok(Math.abs(refreshAt - halfLife) < 100, `refresh at ${refreshAt}, half-life at ${halfLife}`);
      }
      const times = fetched.slice(-3).map((l) => Date.parse(String(l.time)));
      for (let i = 1; i < times.length; i++) {
        const gap = times[i] - times[i - 1];
        assert.ok(gap > 900 && gap < 3500, `rotations ${gap} ms apart`);
      }
      assert.ok(
        sameBytes(await echoOnce(live.conn, pattern(4000, 4)), pattern(4000, 4)),
        "live connection echoes",
      );
      live.conn.close();
      assert.equal(await connect(VIP, 7000, 30), 0, "new connections use the new certificates");
    });
  } finally {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all([echoA.close(), echoB.close(), extra.close()]);
    await mesh.close();
    assert.deepEqual(codes, [0, 0], "nodes drain and exit 0");
  }
});
