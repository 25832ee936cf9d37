/**
 * The ambient L4 guide's policy sequence against real nodes over SOCKS5, a policy change closing a
 * live connection it now denies, and `zt policy check` explaining decisions without traffic.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { startEchoServer } from "../fakes/echo_server.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { runZt, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { ALLOW_SLEEP, ALLOW_SLEEP_GET } from "../../lib/cli/guide_policies.ts";

const A = { name: "node-a", ip: "127.12.0.1" };
const B = { name: "node-b", ip: "127.12.0.2" };
const SLEEP = "127.12.1.1";
const NOTSLEEP = "127.12.1.2";
const HTTPBIN_1 = "127.12.1.3";
const HTTPBIN_2 = "127.12.2.3";
const VIP = "10.96.12.1";
const HOST = "httpbin.ambient-demo.svc.cluster.local";

function mesh(): string {
  const wl = (name: string, sa: string, app: string, ip: string, node: string) => ({
    uid: `Kubernetes//Pod/ambient-demo/${name}`,
    name,
    namespace: "ambient-demo",
    serviceAccount: sa,
    workloadIps: [ip],
    protocol: "HBONE",
    node,
    labels: { app },
    ...(app === "httpbin" ? { services: { [`ambient-demo/${HOST}`]: { 8000: 8080 } } } : {}),
  });
  return stringify({
    workloads: [
      wl("sleep", "sleep", "sleep", SLEEP, A.name),
      wl("notsleep", "notsleep", "notsleep", NOTSLEEP, A.name),
      wl("httpbin-1", "httpbin", "httpbin", HTTPBIN_1, A.name),
      wl("httpbin-2", "httpbin", "httpbin", HTTPBIN_2, B.name),
    ],
    services: [{
      name: "httpbin",
      namespace: "ambient-demo",
      hostname: HOST,
      vips: [`/${VIP}`],
      ports: { 8000: 8080 },
    }],
  });
}

/** SOCKS5 reply codes of sleep and notsleep reaching the service, twice each (both replicas). */
async function replies(): Promise<{ sleep: number[]; notsleep: number[] }> {
  const one = async (src: string) => {
    const out: number[] = [];
    for (let i = 0; i < 2; i++) {
      const { reply, conn } = await socks5Connect({ ip: src, port: 15080 }, VIP, 8000);
      if (reply === 0) {
        const data = new Uint8Array([i, 1, 2, 3]);
        assert.deepEqual(await roundTrip(conn, data), data);
      }
      out.push(reply);
    }
    return out;
  };
  return { sleep: await one(SLEEP), notsleep: await one(NOTSLEEP) };
}

async function until(pred: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("policy: the guide's sequence, live re-check, and zt policy check", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "zt-policy-" });
  const { caDir, configPath } = await writeMeshFiles(dir, mesh());
  const servers = [startEchoServer(HTTPBIN_1, 8080), startEchoServer(HTTPBIN_2, 8080)];
  const nodes = await Promise.all([A, B].map((n) => startNode({ ...n, caDir, configPath })));
  const apply = async (extra: string, expectPolicy: boolean) => {
    await Deno.writeTextFile(configPath, extra ? `${mesh()}---\n${extra}` : mesh());
    await until(async () => {
      const dumps = await Promise.all(nodes.map((n) => n.configDump()));
      return dumps.every((d) =>
        ((d.policies as Array<{ name: string }>) ?? []).some((p) => p.name === "allow-sleep-to-httpbin") ===
          expectPolicy
      );
    }, "policy applied on both nodes");
  };
  try {
    await t.step("no policy: sleep and notsleep both reach httpbin", async () => {
      assert.deepEqual(await replies(), { sleep: [0, 0], notsleep: [0, 0] });
    });

    await t.step("a live connection that a new policy denies is closed", async () => {
      const { reply, conn } = await socks5Connect({ ip: NOTSLEEP, port: 15080 }, HTTPBIN_2, 8080);
      assert.equal(reply, 0);
      await conn.write(new Uint8Array([42]));
      const buf = new Uint8Array(16);
      assert.equal(await conn.read(buf), 1);
      await apply(ALLOW_SLEEP, true);
      const closed = await Promise.race([
        conn.read(buf).then((n) => n === null, () => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
      ]);
      conn.close();
      assert.equal(closed, true, "the denied connection was closed");
      const log = await nodes[1].waitForLog((l) =>
        String(l.message).includes("no longer allowed after a policy update")
      );
      assert.ok(log.id);
    });

    await t.step("ALLOW from sleep's principal: sleep passes, notsleep is refused (0x02)", async () => {
      assert.deepEqual(await replies(), { sleep: [0, 0], notsleep: [2, 2] });
      const rec = await nodes[1].waitForLog((l) =>
        l.message === "connection complete" && l.direction === "inbound" &&
        String(l.error ?? "").includes("policy rejection")
      );
      assert.equal(
        rec.error,
        "connection closed due to policy rejection: allow policies exist, but none allowed",
      );
      assert.equal(rec["src.identity"], "spiffe://cluster.local/ns/ambient-demo/sa/notsleep");
    });

    await t.step("zt policy check explains the decision without traffic", async () => {
      const deny = await runZt([
        "policy",
        "check",
        "--from",
        NOTSLEEP,
        "--to",
        `${HTTPBIN_2}:8080`,
        "--config",
        configPath,
      ]);
      assert.equal(deny.code, 3, deny.stderr);
      assert.match(deny.stdout, /decision: DENY \(allow policies exist, but none allowed\)/);
      assert.match(deny.stdout, /ambient-demo\/allow-sleep-to-httpbin ALLOW via workload: no match/);
      const allow = await runZt([
        "policy",
        "check",
        "--from",
        "cluster.local/ns/ambient-demo/sa/sleep",
        "--to",
        `${VIP}:8000`,
        "--admin",
        `${A.ip}:15000`,
      ]);
      assert.equal(allow.code, 0, allow.stderr + allow.stdout);
      assert.match(allow.stdout, /decided by: ambient-demo\/allow-sleep-to-httpbin/);
    });

    await t.step("with to.operation.methods (L7, no waypoint) both are refused", async () => {
      await Deno.writeTextFile(configPath, `${mesh()}---\n${ALLOW_SLEEP_GET}`);
      await nodes[1].waitForLog((l) => String(l.warning ?? "").includes("methods"));
      await until(async () => (await replies()).sleep[0] === 2, "the L7 rule to be dropped");
      assert.deepEqual(await replies(), { sleep: [2, 2], notsleep: [2, 2] });
    });

    await t.step("policy deleted: both pass again", async () => {
      await apply("", false);
      assert.deepEqual(await replies(), { sleep: [0, 0], notsleep: [0, 0] });
    });
  } finally {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(servers.map((s) => s.close()));
    await Deno.remove(dir, { recursive: true });
    assert.deepEqual(codes, [0, 0]);
  }
});
