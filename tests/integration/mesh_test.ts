/**
 * Two real zt nodes on loopback, real echo servers, SOCKS5 clients: service VIP → endpoints on both
 * nodes over HBONE, domain targets, passthrough, payloads of 1 B to 64 MiB with half-close, 100
 * concurrent streams over the pool, drain on SIGTERM.
 */
import assert from "node:assert/strict";
import { type RunningServer, startEchoServer } from "../fakes/echo_server.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import { HbonePool } from "../../lib/tunnel/hbone_pool.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import { DEFAULT_H2_OPTIONS } from "../../lib/tunnel/h2/session.ts";
import { silentLogger } from "../../lib/log/logger.ts";

const A = { name: "node-a", ip: "127.11.0.1" };
const B = { name: "node-b", ip: "127.11.0.2" };
const SLEEP = "127.11.1.1";
const ECHO_A = "127.11.1.2";
const ECHO_B = "127.11.2.2";
const OUTSIDE = "127.11.9.9";
const VIP = "10.96.11.1";

function mesh() {
  const wl = (name: string, ip: string, node: string, extra: Record<string, unknown> = {}) => ({
    uid: `Kubernetes//Pod/ambient-demo/${name}`,
    name,
    namespace: "ambient-demo",
    serviceAccount: name.replace(/-\d+$/, ""),
    workloadIps: [ip],
    protocol: "HBONE",
    node,
    ...extra,
  });
  const svc = { "ambient-demo/echo.ambient-demo.svc.cluster.local": { 7000: 7070 } };
  return {
    workloads: [
      wl("sleep", SLEEP, A.name),
      wl("echo-1", ECHO_A, A.name, { services: svc }),
      wl("echo-2", ECHO_B, B.name, { services: svc }),
    ],
    services: [{
      name: "echo",
      namespace: "ambient-demo",
      hostname: "echo.ambient-demo.svc.cluster.local",
      vips: [`/${VIP}`],
      ports: { 7000: 7070 },
    }],
  };
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

interface Fixture {
  nodes: NodeProcess[];
  echoA: RunningServer;
  echoB: RunningServer;
  outside: RunningServer;
  dir: string;
  caDir: string;
}

type Tls = "node" | "openssl";

async function setup(tls: Tls, tlsB: Tls = tls): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "zt-mesh-" });
  const { caDir, configPath } = await writeMeshFiles(dir, mesh());
  const echoA = startEchoServer(ECHO_A, 7070);
  const echoB = startEchoServer(ECHO_B, 7070);
  const outside = startEchoServer(OUTSIDE, 9000);
  const nodes = await Promise.all(
    [A, B].map((n, i) => startNode({ ...n, caDir, configPath, env: { ZT_TLS: i === 0 ? tls : tlsB } })),
  );
  return { nodes, echoA, echoB, outside, dir, caDir };
}

async function teardown(f: Fixture): Promise<number[]> {
  const codes = await Promise.all(f.nodes.map((n) => n.stop()));
  await Promise.all([f.echoA.close(), f.echoB.close(), f.outside.close()]);
  await Deno.remove(f.dir, { recursive: true });
  return codes;
}

const socks = { ip: SLEEP, port: 15080 };

// The two TLS backends interoperate: a node on node:tls and a node on OpenSSL, either way round.
for (const [tlsA, tlsB] of [["node", "openssl"], ["openssl", "node"]] as const) {
  Deno.test(`mesh (node-a ${tlsA} TLS, node-b ${tlsB} TLS): 64 MiB echoed through the tunnel intact`, async () => {
    const f = await setup(tlsA, tlsB);
    try {
      for (const size of [1, 65_537, 64 << 20]) {
        const { reply, conn } = await socks5Connect(socks, ECHO_B, 7070);
        assert.equal(reply, 0);
        const data = pattern(size, size + 1);
        const got = await roundTrip(conn, data);
        assert.equal(got.length, size);
        assert.ok(got.every((b, i) => b === data[i]), `payload of ${size} bytes differs`);
      }
    } finally {
      assert.deepEqual(await teardown(f), [0, 0]);
    }
  });
}

for (const tls of ["node", "openssl"] as const) {
  Deno.test(`mesh (${tls} TLS): two nodes, SOCKS5 → VIP → endpoints on both nodes over HBONE`, async (t) => {
    const f = await setup(tls);
    try {
      await t.step("service VIP alternates between the two endpoints, bytes intact", async () => {
        for (let i = 0; i < 4; i++) {
          const { reply, conn } = await socks5Connect(socks, VIP, 7000);
          assert.equal(reply, 0);
          const data = pattern(1000 + i, i);
          assert.deepEqual(await roundTrip(conn, data), data);
        }
        assert.equal(f.echoA.accepted, 2);
        assert.equal(f.echoB.accepted, 2);
      });

      await t.step("the destination node logs the peer's SPIFFE identity (HBONE)", async () => {
        const b = f.nodes[1];
        const rec = await b.waitForLog((l) =>
          l.message === "connection complete" && l.direction === "inbound"
        );
        assert.equal(rec["src.identity"], "spiffe://cluster.local/ns/ambient-demo/sa/sleep");
        assert.equal(rec["dst.addr"], `${ECHO_B}:15008`);
        assert.equal(rec["dst.hbone_addr"], `${ECHO_B}:7070`);
        if (tls === "node") {
          // node:tls can bind the source pod's IP; Deno.connect (under OpenSSL) cannot.
          assert.equal(rec["src.workload"], "sleep", "the tunnel comes from the source pod's IP");
          assert.ok(String(rec["src.addr"]).startsWith(`${SLEEP}:`));
        }
        const a = f.nodes[0];
        const out = await a.waitForLog((l) =>
          l.message === "connection complete" && l.direction === "outbound" &&
          l["dst.addr"] === `${ECHO_B}:15008`
        );
        assert.equal(out["dst.service"], "echo.ambient-demo.svc.cluster.local");
        assert.equal(out["dst.identity"], "spiffe://cluster.local/ns/ambient-demo/sa/echo");
        assert.equal(out["src.workload"], "sleep");
      });

      await t.step("domain targets resolve against mesh hostnames, short forms included", async () => {
        for (const host of ["echo", "echo.ambient-demo", "echo.ambient-demo.svc.cluster.local"]) {
          const { reply, conn } = await socks5Connect(socks, host, 7000);
          assert.equal(reply, 0, host);
          const data = pattern(300, 7);
          assert.deepEqual(await roundTrip(conn, data), data);
        }
      });

      await t.step("a destination outside the mesh is passed through as plain TCP", async () => {
        const before = f.outside.accepted;
        const { reply, conn } = await socks5Connect(socks, OUTSIDE, 9000);
        assert.equal(reply, 0);
        const data = pattern(5000, 3);
        assert.deepEqual(await roundTrip(conn, data), data);
        assert.equal(f.outside.accepted, before + 1);
      });

      await t.step("payloads from 1 byte to 64 MiB, half-closed, come back byte for byte", async () => {
        for (const size of [1, 2, 1023, 65_537, 1 << 20, 64 << 20]) {
          const { reply, conn } = await socks5Connect(socks, ECHO_B, 7070);
          assert.equal(reply, 0);
          const data = pattern(size, size);
          const got = await roundTrip(conn, data);
          assert.equal(got.length, size);
          assert.ok(got.every((b, i) => b === data[i]), `payload of ${size} bytes differs`);
        }
      });

      await t.step("100 concurrent streams over the pool", async () => {
        const runs = Array.from({ length: 100 }, async (_, i) => {
          const { reply, conn } = await socks5Connect(socks, VIP, 7000);
          assert.equal(reply, 0);
          const data = pattern(10_000 + i, 100 + i);
          assert.deepEqual(await roundTrip(conn, data), data);
        });
        await Promise.all(runs);
      });

      await t.step("unknown service port and unreachable upstream map to SOCKS5 codes", async () => {
        const noPort = await socks5Connect(socks, VIP, 7001);
        assert.equal(noPort.reply, 4, "no route → 0x04");
        const refused = await socks5Connect(socks, OUTSIDE, 9001);
        assert.equal(refused.reply, 5, "refused → 0x05");
      });
      await t.step(
        "an HBONE peer with a mesh certificate (sidecar-style) is served; a non-local authority gets 400",
        async () => {
          const ca = await BuiltinCa.load(f.caDir);
          const cert = await ca.sign({
            trustDomain: "cluster.local",
            namespace: "client-b",
            serviceAccount: "sleep",
          }, 60_000);
          const pool = new HbonePool({
            h2: DEFAULT_H2_OPTIONS,
            maxStreamsPerConnection: 100,
            idleTimeoutMs: 60_000,
            log: silentLogger(),
          });
          try {
            const target = {
              cert,
              expectedIdentities: ["spiffe://cluster.local/ns/ambient-demo/sa/echo"],
              ip: ECHO_B,
              port: 15008,
              factory: hostFactory(),
            };
            const ok = await pool.connect(target, `${ECHO_B}:7070`);
            assert.equal(ok.status, 200);
            await ok.stream.writeBytes(new Uint8Array([1, 2, 3]));
            ok.stream.end();
            const back = await ok.stream.read();
            assert.deepEqual(back && [...back], [1, 2, 3]);
            const elsewhere = await pool.connect(target, `${ECHO_A}:7070`);
            assert.equal(elsewhere.status, 400, "authority of a pod on another node");
            const notPod = await pool.connect(target, `${OUTSIDE}:9000`);
            assert.equal(notPod.status, 400, "authority that is not a pod");
          } finally {
            pool.close();
          }
        },
      );
    } finally {
      const codes = await teardown(f);
      assert.deepEqual(codes, [0, 0], "nodes drain and exit 0");
    }
  });
}
