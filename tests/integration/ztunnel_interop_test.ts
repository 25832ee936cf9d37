/**
 * The real ztunnel next to zt, both ways (skipped with the reason when ZTUNNEL_BIN is unset, or without
 * root). ztunnel runs in dedicated mode with its SOCKS5 entry in its own network namespace, a zt node in
 * the test's namespace (tests/fakes/ztunnel_mesh.ts). Both read the same local config file and share
 * zt's built-in CA, which signs ztunnel's CSRs through an Istio CA endpoint (fake_istiod.ts as
 * CA_ADDRESS). Proven: SPIFFE identities in both access logs, 16 MiB echoed byte for byte each way
 * (SHA-256 at both ends), services by VIP and CIDR VIP each way, a policy denial answered 401 in both
 * directions, ztunnel seeing zt's pods at their own addresses (its sourceIps policy), and the same
 * metric labels and access-log fields on both nodes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FakeIstiod } from "../fakes/fake_istiod.ts";
import { type DigestRecord, startDigestServer } from "../fakes/digest_server.ts";
import type { Socks5Result } from "../fakes/digest_app.ts";
import { pattern, spiffeOf, TEST_NAMESPACE } from "../fakes/mesh_config.ts";
import { LineReader, Netns, netnsSkipReason } from "../fakes/netns.ts";
import { scrape } from "../fakes/prometheus_scrape.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import { csrIdentityCaHandler, type LogRecord, ztunnelBinary, ZtunnelNode } from "../fakes/ztunnel_node.ts";
import {
  DENIED_PORT,
  ECHO,
  ECHO_PORT,
  interopMeshYaml,
  INTRUDER,
  linkZtunnelNamespace,
  SLEEP,
  SVC_PORT,
  ZT_ECHO_SVC,
  ZT_NODE,
  ZTUNNEL_ECHO_SVC,
  ZTUNNEL_POD,
} from "../fakes/ztunnel_mesh.ts";

const ZTUNNEL = ztunnelBinary();
const SKIP = "skip" in ZTUNNEL ? ZTUNNEL.skip : await netnsSkipReason(["ip", "curl"]);
if (SKIP) console.log(`ztunnel_interop_test: skipped: ${SKIP}`);
const BIN = "bin" in ZTUNNEL ? ZTUNNEL.bin : "";

const MIB16 = 16 << 20;
const APP = new URL("../fakes/digest_app.ts", import.meta.url).pathname;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const complete = (l: LogRecord) => l.message === "connection complete";

/** The first record after `from` matching `pred` (polls `logs`, which grows as lines arrive). */
async function logAfter(logs: () => LogRecord[], from: number, pred: (l: LogRecord) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const hit = logs().slice(from).find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) {
      throw new Error(
        `no matching log line:\n${logs().slice(from).map((l) => JSON.stringify(l)).join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "ztunnel interop: ztunnel ⇄ zt, one CA and one config file",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const netns = new Netns(`ztun-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-ztunnel-" });
    let istiod: FakeIstiod | undefined;
    let zt: NodeProcess | undefined;
    let ztunnel: ZtunnelNode | undefined;
    const apps: ReturnType<typeof startDigestServer>[] = [];
    try {
      const ns = await linkZtunnelNamespace(netns, "ztunnel");
      const { caDir, configPath } = await writeMeshFiles(dir, interopMeshYaml());
      istiod = await FakeIstiod.start({
        host: ZT_NODE.ip,
        caHandler: csrIdentityCaHandler(await BuiltinCa.load(caDir), [spiffeOf(ZTUNNEL_POD)]),
      });
      const caRoot = `${dir}/istiod-root.pem`;
      await Deno.writeTextFile(caRoot, istiod.caPem);

      apps.push(startDigestServer(ECHO.ip, ECHO_PORT, { kind: "echo" }));
      apps.push(startDigestServer(ECHO.ip, DENIED_PORT, { kind: "echo" }));
      const [ztEcho, ztDenied] = apps;
      const app = netns.spawn(ns, [
        Deno.execPath(),
        "run",
        "-A",
        APP,
        "serve",
        ZTUNNEL_POD.ip,
        `${ECHO_PORT}`,
      ]);
      const appOut = new LineReader(app.stdout);
      await appOut.waitFor((l) => l.includes('"ready"'), 20_000);
      const ztunnelApp = async () =>
        JSON.parse(await appOut.waitFor((l) => l.includes('"connection"'), 10_000));

      ztunnel = new ZtunnelNode({
        netns,
        ns,
        name: "ztunnel",
        bin: BIN,
        ip: ZTUNNEL_POD.ip,
        workload: { namespace: TEST_NAMESPACE, name: ZTUNNEL_POD.name, serviceAccount: ZTUNNEL_POD.name },
        configPath,
        ca: { kind: "istio", address: istiod.address, rootCertPath: caRoot },
      });
      [zt] = await Promise.all([startNode({ ...ZT_NODE, caDir, configPath }), ztunnel.ready()]);
      const ztLogs = () => zt!.logs;
      const ztunnelLogs = () => ztunnel!.logs;

      /** SOCKS5 through ztunnel (a client process in its namespace): BYTES of pattern(seed), echoed. */
      const viaZtunnel = async (host: string, port: number, bytes: number, seed: number) => {
        const r = await netns.run(ns, [
          Deno.execPath(),
          "run",
          "-A",
          APP,
          "socks5",
          "127.0.0.1:15080",
          host,
          `${port}`,
          `${bytes}`,
          `${seed}`,
        ]);
        if (r.code !== 0) throw new Error(`socks5 client failed: ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split("\n").pop()!) as Socks5Result;
      };
      /** SOCKS5 through zt's pod `from`: the bytes echoed back. */
      const viaZt = async (from: typeof SLEEP, host: string, port: number, data: Uint8Array) => {
        const c = await socks5Connect({ ip: from.ip, port: 15080 }, host, port);
        assert.equal(c.reply, 0, `zt's SOCKS5 reply for ${host}:${port}`);
        return await roundTrip(c.conn, data);
      };
      const exact = (rec: DigestRecord, data: Uint8Array) => {
        assert.equal(rec.received, data.length);
        assert.equal(rec.receivedSha256, sha256(data), "the app got exactly what was sent");
        assert.ok(rec.eof, "the client's half-close reached the app");
      };

      await t.step("ztunnel → zt: 16 MiB echoed byte for byte; both access logs name the peer", async () => {
        const data = pattern(MIB16, 1);
        const [a, b] = [ztLogs().length, ztunnelLogs().length];
        const r = await viaZtunnel(ECHO.ip, ECHO_PORT, MIB16, 1);
        assert.deepEqual([r.reply, r.error, r.sentSha256], [0, undefined, sha256(data)]);
        assert.equal(r.receivedSha256, sha256(data), "the echo came back byte for byte");
        exact(await ztEcho.finished(0), data);
        const ztLog = await logAfter(ztLogs, a, (l) => complete(l) && l.direction === "inbound");
        assert.equal(ztLog["src.identity"], spiffeOf(ZTUNNEL_POD));
        assert.equal(ztLog["dst.identity"], spiffeOf(ECHO));
        assert.equal(ztLog["src.addr"], `${ZTUNNEL_POD.ip}:${String(ztLog["src.addr"]).split(":")[1]}`);
        const theirs = await logAfter(ztunnelLogs, b, (l) => complete(l) && l.direction === "outbound");
        assert.equal(theirs["dst.identity"], spiffeOf(ECHO));
        assert.equal(theirs["src.identity"], spiffeOf(ZTUNNEL_POD));
        assert.deepEqual([theirs.bytes_sent, theirs.bytes_recv], [MIB16, MIB16]);
      });

      await t.step(
        "zt → ztunnel: 16 MiB byte for byte; ztunnel sees sleep's identity and own address",
        async () => {
          // ztunnel's policy `sleep-only-from-its-own-address` denies sleep's identity from any other address.
          const data = pattern(MIB16, 2);
          const [a, b] = [ztLogs().length, ztunnelLogs().length];
          const got = await viaZt(SLEEP, ZTUNNEL_POD.ip, ECHO_PORT, data);
          assert.equal(sha256(got), sha256(data), "the echo came back byte for byte");
          exact(await ztunnelApp(), data);
          const theirs = await logAfter(ztunnelLogs, b, (l) => complete(l) && l.direction === "inbound");
          assert.equal(theirs["src.identity"], spiffeOf(SLEEP));
          assert.equal(theirs["dst.identity"], spiffeOf(ZTUNNEL_POD));
          assert.match(String(theirs["src.addr"]), new RegExp(`^${SLEEP.ip.replaceAll(".", "\\.")}:`));
          assert.equal(theirs.error, undefined);
          const ztLog = await logAfter(ztLogs, a, (l) => complete(l) && l.direction === "outbound");
          assert.equal(ztLog["dst.identity"], spiffeOf(ZTUNNEL_POD));
          assert.deepEqual([ztLog.bytes_sent, ztLog.bytes_recv], [MIB16, MIB16]);
        },
      );

      await t.step("services both ways: ztunnel → zt's VIP and CIDR VIP, zt → ztunnel's VIP", async () => {
        const small = pattern(256 << 10, 4);
        let n = 1;
        for (const vip of [ZT_ECHO_SVC.vip, "10.97.213.77"]) {
          const b = ztunnelLogs().length;
          const r = await viaZtunnel(vip, SVC_PORT, small.length, 4);
          assert.equal(r.receivedSha256, sha256(small), `via ${vip}`);
          exact(await ztEcho.finished(n++), small);
          const theirs = await logAfter(ztunnelLogs, b, (l) => complete(l) && l.direction === "outbound");
          assert.equal(theirs["dst.service"], ZT_ECHO_SVC.hostname);
          assert.equal(theirs["dst.hbone_addr"], `${ECHO.ip}:${ECHO_PORT}`);
        }
        const a = ztLogs().length;
        assert.equal(sha256(await viaZt(SLEEP, ZTUNNEL_ECHO_SVC.vip, SVC_PORT, small)), sha256(small));
        exact(await ztunnelApp(), small);
        const ztLog = await logAfter(ztLogs, a, (l) => complete(l) && l.direction === "outbound");
        assert.equal(ztLog["dst.service"], ZTUNNEL_ECHO_SVC.hostname);
      });

      await t.step(
        "zt → ztunnel, denied identity: ztunnel answers 401, zt's SOCKS5 replies 0x02",
        async () => {
          const [a, b] = [ztLogs().length, ztunnelLogs().length];
          const c = await socks5Connect({ ip: INTRUDER.ip, port: 15080 }, ZTUNNEL_POD.ip, ECHO_PORT);
          assert.equal(c.reply, 2, "SOCKS5 0x02: connection not allowed by ruleset");
          const theirs = await logAfter(ztunnelLogs, b, complete);
          assert.equal(theirs["src.identity"], spiffeOf(INTRUDER));
          assert.match(String(theirs.error), /policy rejection: explicitly denied by: ops\/deny-intruder/);
          const ztLog = await logAfter(ztLogs, a, complete);
          assert.equal(ztLog.error, "http status: 401 Unauthorized");
        },
      );

      await t.step("ztunnel → zt, denied by zt: zt answers 401, nothing reaches the app", async () => {
        const [a, b] = [ztLogs().length, ztunnelLogs().length];
        const r = await viaZtunnel(ECHO.ip, DENIED_PORT, 1 << 20, 3);
        // ztunnel's SOCKS5 answers success before it connects (istio/ztunnel#691): the client sees the close.
        assert.equal(r.received, 0);
        const theirs = await logAfter(ztunnelLogs, b, complete);
        assert.equal(theirs.error, "http status: 401 Unauthorized");
        const ztLog = await logAfter(ztLogs, a, complete);
        assert.equal(ztLog["src.identity"], spiffeOf(ZTUNNEL_POD));
        assert.match(String(ztLog.error), /explicitly denied by: ops\/deny-ztunnel-pod-on-7071/);
        assert.equal(ztDenied.accepted, 0);
      });

      await t.step("both report the tunnels with the same metric and log field names", async () => {
        const names = async (ip: string) => {
          const s = await scrape(ip);
          return s.samples("istio_tcp_connections_opened_total").map((m) =>
            Object.keys(m.labels ?? {}).sort()
          );
        };
        const [ours, theirs] = [await names(ZT_NODE.ip), await names(ZTUNNEL_POD.ip)];
        assert.ok(ours.length > 0 && theirs.length > 0);
        for (const n of [...ours, ...theirs]) assert.deepEqual(n, theirs[0]);
        // Access-log fields: ztunnel's vocabulary (src/proxy/metrics.rs), each written when its value is
        // known (ztunnel's local workloads have no cluster id, so it writes no src.cluster for them).
        const vocabulary = new Set(
          ["addr", "workload", "namespace", "identity", "cluster"].flatMap((f) => [
            `src.${f}`,
            `dst.${f}`,
          ]).concat(["dst.hbone_addr", "dst.service"]),
        );
        const fields = (l: LogRecord) => Object.keys(l).filter((k) => /^(src|dst)\./.test(k));
        for (const l of [...zt!.logs, ...ztunnel!.logs].filter(complete)) {
          for (const f of fields(l)) assert.ok(vocabulary.has(f), `unknown access-log field ${f}`);
        }
        const inbound = (l: LogRecord) => complete(l) && l.direction === "inbound" && !l.error;
        assert.equal(zt!.logs.find(inbound)?.["src.cluster"], "Kubernetes");
      });
    } finally {
      const codes = await Promise.all([zt?.stop(), ztunnel?.stop()]);
      await istiod?.close();
      await Promise.allSettled(apps.map((a) => a.close()));
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
      assert.deepEqual(codes, [0, 0], "both drain and exit 0");
    }
  },
});
