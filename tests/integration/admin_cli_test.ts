/**
 * Operating a running node with the `zt` CLI and its admin endpoint: `zt config workloads` prints the
 * node's rows, a config change shows up in config_dump (and in the CLI) without a restart, and
 * `zt log-level` changes what is logged at once and `reset` restores it.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { startEchoServer } from "../fakes/echo_server.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, runZt, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import type { LogRecord } from "../../lib/cli/node_process.ts";
import { meshPod, pattern, sameBytes, TEST_NAMESPACE } from "../fakes/mesh_config.ts";

const NODE = { name: "admin-a", ip: "127.40.2.1" };
const ADMIN = `${NODE.ip}:15000`;
const CLIENT = { name: "client-1", ip: "127.40.2.11", node: NODE.name };
const SERVER = { name: "server-1", ip: "127.40.2.12", node: NODE.name };
const ELSEWHERE = { name: "legacy-1", ip: "127.40.2.21", node: "other-node", extra: { protocol: "TCP" } };
const LATE = { name: "late-1", ip: "127.40.2.31", node: "other-node" };

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-legacy
  namespace: ${TEST_NAMESPACE}
spec:
  action: DENY
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/${TEST_NAMESPACE}/sa/legacy"]
`;

const baseMesh = () => ({ workloads: [meshPod(CLIENT), meshPod(SERVER), meshPod(ELSEWHERE)] });

/** Table rows as arrays of cells, header first. */
function table(text: string): string[][] {
  return text.trim().split("\n").map((l) => l.trim().split(/\s+/));
}

async function zt(...args: string[]): Promise<string> {
  const r = await runZt(args);
  assert.equal(r.code, 0, `zt ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("operate: zt config, config_dump after a change, zt log-level without a restart", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "zt-admin-" });
  const { caDir, configPath } = await writeMeshFiles(dir, baseMesh());
  const echo = startEchoServer(SERVER.ip, 7070);
  let node: NodeProcess | undefined;
  try {
    node = await startNode({ ...NODE, caDir, configPath });
    const n = node;

    await t.step("zt config workloads prints one row per workload", async () => {
      assert.deepEqual(table(await zt("config", "workloads", "--admin", ADMIN)), [
        ["NAME", "NAMESPACE", "IP", "NODE", "WAYPOINT", "PROTOCOL"],
        ["client-1", TEST_NAMESPACE, CLIENT.ip, NODE.name, "None", "HBONE"],
        ["legacy-1", TEST_NAMESPACE, ELSEWHERE.ip, "other-node", "None", "TCP"],
        ["server-1", TEST_NAMESPACE, SERVER.ip, NODE.name, "None", "HBONE"],
      ]);
      // Without --admin, the address comes from INSTANCE_IP, as in the node's own pod.
      const r = await runZt(["config", "workloads", "-o", "json"], { INSTANCE_IP: NODE.ip });
      assert.equal(r.code, 0, r.stderr);
      const names = (JSON.parse(r.stdout) as Array<{ name: string }>).map((w) => w.name).sort();
      assert.deepEqual(names, ["client-1", "legacy-1", "server-1"]);
    });

    await t.step("a config change shows in config_dump and in zt config, without a restart", async () => {
      const pid = n.child.pid;
      await Deno.writeTextFile(
        configPath,
        stringify({ workloads: [meshPod(CLIENT), meshPod(SERVER), meshPod(LATE)] }) + "---\n" + POLICY,
      );
      const dump = await until("config_dump to show the change", async () => {
        const d = await n.configDump() as {
          workloads: Array<{ name: string }>;
          policies: Array<{ name: string }>;
        };
        const names = d.workloads.map((w) => w.name);
        return names.includes("late-1") && !names.includes("legacy-1") && d.policies.length > 0
          ? d
          : undefined;
      });
      const policy = (dump.policies as unknown as Array<Record<string, unknown>>)[0];
      assert.equal(policy.name, "deny-legacy");
      assert.equal(policy.namespace, TEST_NAMESPACE);
      assert.equal(policy.action, "Deny");
      const rows = table(await zt("config", "workloads", "--admin", ADMIN)).map((r) => r[0]);
      assert.deepEqual(rows, ["NAME", "client-1", "late-1", "server-1"]);
      const policies = await zt("config", "policies", "--admin", ADMIN);
      assert.match(policies, /deny-legacy/);
      assert.equal(n.child.pid, pid);
      assert.equal((await fetch(`http://${NODE.ip}:15021/healthz/ready`)).status, 200, "still ready");
    });

    const connect = async (seed: number) => {
      const { reply, conn } = await socks5Connect({ ip: CLIENT.ip, port: 15080 }, SERVER.ip, 7070);
      assert.equal(reply, 0);
      const data = pattern(5000, seed);
      assert.ok(sameBytes(await roundTrip(conn, data), data));
      // The inbound side's access line is the last one a connection writes.
      const countDone = () => n.logs.filter((l) => l.message === "connection complete").length;
      await until(
        "the connection's access lines",
        () => Promise.resolve(countDone() >= 2 * seed ? true : undefined),
      );
    };
    const isDebug = (l: LogRecord) => l.level === "debug";

    await t.step("zt log-level debug takes effect at once; reset restores info", async () => {
      assert.equal((await zt("log-level", "--admin", ADMIN)).trim(), "current log level is info");
      await connect(1);
      assert.equal(n.logs.filter(isDebug).length, 0, "no debug lines at info");

      assert.equal((await zt("log-level", "debug", "--admin", ADMIN)).trim(), "current log level is debug");
      await connect(2);
      const opened = n.logs.filter((l) => isDebug(l) && l.message === "connection opened");
      assert.ok(opened.length >= 1, "a debug `connection opened` line appears after the change");
      assert.equal(opened[0].scope, "access");

      assert.equal((await zt("log-level", "reset", "--admin", ADMIN)).trim(), "current log level is info");
      const before = n.logs.filter(isDebug).length;
      await connect(3);
      assert.equal(n.logs.filter(isDebug).length, before, "no debug lines after reset");
    });

    await t.step("per-component levels and a bad level", async () => {
      assert.equal(
        (await zt("log-level", "access=debug", "--admin", ADMIN)).trim(),
        "current log level is info,access=debug",
      );
      const bad = await runZt(["log-level", "loud", "--admin", ADMIN]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Invalid level provided: loud/);
      assert.equal((await zt("log-level", "reset", "--admin", ADMIN)).trim(), "current log level is info");
    });
  } finally {
    const code = node ? await node.stop() : -1;
    await echo.close();
    await Deno.remove(dir, { recursive: true });
    assert.equal(code, 0);
  }
});
