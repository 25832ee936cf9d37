/**
 * The other way to share a CA with ztunnel: ztunnel's `FAKE_CA=true` signs with the test CA compiled into
 * it (`src/tls/root-cert.pem` and `src/tls/ca-key.pem` of its source tree), and zt loads that same pair
 * as its LOCAL_CA_DIR (the plug-in CA files: root, CA certificate = root, chain = root, key). One tunnel
 * each way, identities in both access logs. The files are read from ztunnel's source at test time
 * (ZTUNNEL_SRC, or the tree ZTUNNEL_BIN was built in: <src>/out/rust/release/ztunnel), never copied
 * into this repository. Skipped with the reason when either is missing, or without root.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { startDigestServer } from "../fakes/digest_server.ts";
import type { Socks5Result } from "../fakes/digest_app.ts";
import { pattern, spiffeOf, TEST_NAMESPACE } from "../fakes/mesh_config.ts";
import { LineReader, Netns, netnsSkipReason } from "../fakes/netns.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { type LogRecord, ztunnelBinary, ZtunnelNode } from "../fakes/ztunnel_node.ts";
import { ECHO_PORT, interopMeshYaml, linkZtunnelNamespace, meshAddrs } from "../fakes/ztunnel_mesh.ts";

const M = meshAddrs("10.216.0");
const ZTUNNEL = ztunnelBinary();
const BIN = "bin" in ZTUNNEL ? ZTUNNEL.bin : "";
const SRC = Deno.env.get("ZTUNNEL_SRC") ?? (BIN ? join(dirname(BIN), "../../..") : "");
const TEST_CA = ["root-cert.pem", "ca-key.pem"].map((f) => join(SRC, "src/tls", f));

function testCaSkip(): string | undefined {
  for (const f of TEST_CA) {
    try {
      Deno.statSync(f);
    } catch {
      return `not run: ${f} not found (set ZTUNNEL_SRC to ztunnel's source tree)`;
    }
  }
  return undefined;
}

const SKIP = "skip" in ZTUNNEL ? ZTUNNEL.skip : testCaSkip() ?? await netnsSkipReason(["ip"]);
if (SKIP) console.log(`ztunnel_fake_ca_test: skipped: ${SKIP}`);

const APP = new URL("../fakes/digest_app.ts", import.meta.url).pathname;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const complete = (l: LogRecord) => l.message === "connection complete" && !l.error;

Deno.test({
  name: "ztunnel FAKE_CA: zt on ztunnel's test root, a tunnel each way",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const netns = new Netns(`ztfca-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-ztunnel-fake-ca-" });
    let zt: NodeProcess | undefined;
    let ztunnel: ZtunnelNode | undefined;
    let echo: ReturnType<typeof startDigestServer> | undefined;
    try {
      const ns = await linkZtunnelNamespace(netns, "ztunnel", M);
      echo = startDigestServer(M.echo.ip, ECHO_PORT, { kind: "echo" });
      const { configPath } = await writeMeshFiles(dir, interopMeshYaml(M));
      const caDir = `${dir}/ztunnel-test-ca`;
      await Deno.mkdir(caDir);
      const [root, key] = await Promise.all(TEST_CA.map((f) => Deno.readTextFile(f)));
      for (const f of ["root-cert.pem", "ca-cert.pem", "cert-chain.pem"]) {
        await Deno.writeTextFile(`${caDir}/${f}`, root);
      }
      await Deno.writeTextFile(`${caDir}/ca-key.pem`, key);

      const app = netns.spawn(ns, [
        Deno.execPath(),
        "run",
        "-A",
        APP,
        "serve",
        M.ztunnelPod.ip,
        `${ECHO_PORT}`,
      ]);
      await new LineReader(app.stdout).waitFor((l) => l.includes('"ready"'), 20_000);
      ztunnel = new ZtunnelNode({
        netns,
        ns,
        name: "ztunnel",
        bin: BIN,
        ip: M.ztunnelPod.ip,
        workload: { namespace: TEST_NAMESPACE, name: M.ztunnelPod.name, serviceAccount: M.ztunnelPod.name },
        configPath,
        ca: { kind: "fake" },
      });
      [zt] = await Promise.all([startNode({ ...M.ztNode, caDir, configPath }), ztunnel.ready()]);

      const data = pattern(1 << 20, 7);
      const r = await netns.run(ns, [
        Deno.execPath(),
        "run",
        "-A",
        APP,
        "socks5",
        "127.0.0.1:15080",
        M.echo.ip,
        `${ECHO_PORT}`,
        `${data.length}`,
        "7",
      ]);
      const res = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Socks5Result;
      assert.equal(res.receivedSha256, sha256(data), `ztunnel → zt: ${JSON.stringify(res)}`);
      const ours = await zt.waitForLog((l) => complete(l) && l.direction === "inbound");
      assert.equal(ours["src.identity"], spiffeOf(M.ztunnelPod));

      const c = await socks5Connect({ ip: M.sleep.ip, port: 15080 }, M.ztunnelPod.ip, ECHO_PORT);
      assert.equal(c.reply, 0);
      assert.equal(sha256(await roundTrip(c.conn, data)), sha256(data), "zt → ztunnel");
      const theirs = await ztunnel.waitForLog((l) => complete(l) && l.direction === "inbound");
      assert.equal(theirs["src.identity"], spiffeOf(M.sleep));
    } finally {
      const codes = await Promise.all([zt?.stop(), ztunnel?.stop()]);
      await echo?.close();
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
      assert.deepEqual(codes, [0, 0]);
    }
  },
});
