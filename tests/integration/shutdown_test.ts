/**
 * The other ways a node stops (ztunnel's signal.rs and admin.rs): POST /quitquitquit drains like
 * SIGTERM (live traffic finishes, exit 0); a first SIGINT drains, a second one exits at once.
 */
import assert from "node:assert/strict";
import { startEchoServer } from "../fakes/echo_server.ts";
import { socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod } from "../fakes/mesh_config.ts";
import { slowTransfer } from "../fakes/slow_transfer.ts";

/** One node with a client pod and an echo pod (same node: inbound over HBONE to itself). */
async function withNode(
  prefix: string,
  body: (node: NodeProcess, socks: { ip: string; port: number }, server: string) => Promise<void>,
): Promise<void> {
  const N = { name: "stop-a", ip: `${prefix}.1` };
  const client = { name: "client-1", ip: `${prefix}.11`, node: N.name };
  const server = { name: "echo-1", ip: `${prefix}.12`, node: N.name };
  const dir = await Deno.makeTempDir({ prefix: "zt-stop-" });
  const { caDir, configPath } = await writeMeshFiles(dir, { workloads: [meshPod(client), meshPod(server)] });
  const echo = startEchoServer(server.ip, 7070);
  let node: NodeProcess | undefined;
  try {
    node = await startNode({ ...N, caDir, configPath, env: { CONNECTION_TERMINATION_DEADLINE: "30s" } });
    await body(node, { ip: client.ip, port: 15080 }, server.ip);
  } finally {
    await node?.stop("SIGKILL");
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const alive = async (n: NodeProcess) =>
  await Promise.race([
    n.child.status.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 0)),
  ]);

Deno.test("shutdown: POST /quitquitquit drains; live traffic finishes; exit 0", async () => {
  await withNode("127.40.5", async (node, socks, server) => {
    const { reply, conn } = await socks5Connect(socks, server, 7070);
    assert.equal(reply, 0);
    const transfer = slowTransfer(conn, { chunks: 12, chunkSize: 8192, intervalMs: 100, seed: 5 });
    await new Promise((r) => setTimeout(r, 300));

    const get = await node.admin("/quitquitquit");
    assert.equal(get.status, 405, "GET is refused");
    await get.body?.cancel();
    assert.ok(await alive(node));

    const res = await node.admin("/quitquitquit", { method: "POST" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "shutdown now\n");
    await node.waitForLog((l) => l.message === "shutting down");
    await assert.rejects(async () => {
      const r = await socks5Connect(socks, server, 7070);
      if (r.reply !== 0) throw new Error(`refused with SOCKS5 reply ${r.reply}`);
      r.conn.close();
    }, "no new connections while draining");

    const result = await transfer;
    assert.ok(result.complete, `the live transfer finished intact: ${JSON.stringify(result)}`);
    assert.equal(await node.stop(), 0, "the node exits 0 once drained");
    assert.ok(node.logs.some((l) => l.message === "shutdown complete"));
  });
});

Deno.test("shutdown: the first SIGINT drains, the second exits at once", async () => {
  await withNode("127.40.6", async (node, socks, server) => {
    // An idle connection keeps the drain waiting (the deadline is 30 s).
    const { reply, conn } = await socks5Connect(socks, server, 7070);
    assert.equal(reply, 0);
    try {
      node.child.kill("SIGINT");
      await node.waitForLog((l) => l.message === "shutting down");
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(await alive(node), "after one SIGINT the node is draining, not gone");

      const t0 = performance.now();
      node.child.kill("SIGINT");
      const status = await node.child.status;
      const took = performance.now() - t0;
      assert.ok(took < 1_000, `the second SIGINT exits at once (${Math.round(took)} ms)`);
      assert.equal(status.code, 130, "exit code 130, as for an interrupted process");
      // The line was written before exit; the collector may still be reading the pipe.
      await node.waitForLog((l) => l.message === "second interrupt: exiting now", 5_000);
    } finally {
      conn.close();
    }
  });
});
