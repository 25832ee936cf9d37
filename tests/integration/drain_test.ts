/**
 * Graceful drain on SIGTERM with live traffic (ztunnel's run_with_drain): listeners stop accepting at
 * once; a transfer that ends within CONNECTION_TERMINATION_DEADLINE is left to finish, byte for
 * byte, and the node exits 0 right after it; one that would outlive the deadline is cut at the
 * deadline, and the node still exits 0.
 */
import assert from "node:assert/strict";
import { startEchoServer } from "../fakes/echo_server.ts";
import { socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod } from "../fakes/mesh_config.ts";
import { slowTransfer } from "../fakes/slow_transfer.ts";

interface Scenario {
  readonly prefix: string;
  readonly deadline: string;
}

/** Two nodes (client pod on A, echo pod on B), run `body`, clean up whatever is left. */
async function withMesh(
  s: Scenario,
  body: (nodes: NodeProcess[], socks: { ip: string; port: number }, server: string) => Promise<void>,
): Promise<void> {
  const A = { name: "drain-a", ip: `${s.prefix}.1` };
  const B = { name: "drain-b", ip: `${s.prefix}.2` };
  const client = { name: "client-1", ip: `${s.prefix}.11`, node: A.name };
  const server = { name: "echo-1", ip: `${s.prefix}.12`, node: B.name };
  const dir = await Deno.makeTempDir({ prefix: "zt-drain-" });
  const { caDir, configPath } = await writeMeshFiles(dir, { workloads: [meshPod(client), meshPod(server)] });
  const echo = startEchoServer(server.ip, 7070);
  const nodes: NodeProcess[] = [];
  try {
    const env = { CONNECTION_TERMINATION_DEADLINE: s.deadline };
    nodes.push(...await Promise.all([A, B].map((n) => startNode({ ...n, caDir, configPath, env }))));
    await body(nodes, { ip: client.ip, port: 15080 }, server.ip);
  } finally {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends SIGTERM and resolves with the exit code and when the process was gone. */
async function term(n: NodeProcess): Promise<{ code: number; exitedAt: number }> {
  const code = await n.stop("SIGTERM");
  return { code, exitedAt: performance.now() };
}

async function refused(socks: { ip: string; port: number }, target: string): Promise<boolean> {
  try {
    const { reply, conn } = await socks5Connect(socks, target, 7070);
    if (reply === 0) conn.close();
    return reply !== 0;
  } catch {
    return true;
  }
}

Deno.test("drain: a live transfer finishes within the deadline, then the nodes exit 0", async () => {
  await withMesh({ prefix: "127.40.3", deadline: "10s" }, async (nodes, socks, server) => {
    const { reply, conn } = await socks5Connect(socks, server, 7070);
    assert.equal(reply, 0);
    // About 2.4 s of traffic: 24 chunks of 16 KiB, one every 100 ms.
    const transfer = slowTransfer(conn, { chunks: 24, chunkSize: 16 * 1024, intervalMs: 100, seed: 3 });
    await new Promise((r) => setTimeout(r, 500));
    const termAt = performance.now();
    const exits = nodes.map(term);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(await refused(socks, server), "a draining node accepts no new connections");

    const result = await transfer;
    assert.ok(result.complete, `the live transfer finished intact: ${JSON.stringify(result)}`);
    const done = await Promise.all(exits);
    assert.deepEqual(done.map((d) => d.code), [0, 0], "both nodes exit 0");
    for (const d of done) {
      assert.ok(d.exitedAt >= result.endedAt - 50, "a node stays up while its connection is live");
      assert.ok(d.exitedAt - termAt < 10_000, "and exits before the deadline");
      assert.ok(
        d.exitedAt - result.endedAt < 2_000,
        `and soon after the transfer ended (${d.exitedAt - result.endedAt} ms)`,
      );
    }
    const a = nodes[0];
    assert.ok(a.logs.some((l) => l.message === "shutdown complete"));
    assert.ok(!a.logs.some((l) => l.message === "drain deadline reached"), "nothing was cut");
  });
});

Deno.test("drain: a transfer that outlives CONNECTION_TERMINATION_DEADLINE is cut at the deadline, exit 0", async () => {
  await withMesh({ prefix: "127.40.4", deadline: "1s" }, async (nodes, socks, server) => {
    const { reply, conn } = await socks5Connect(socks, server, 7070);
    assert.equal(reply, 0);
    // Would take about 6 s.
    const transfer = slowTransfer(conn, { chunks: 60, chunkSize: 4096, intervalMs: 100, seed: 4 });
    await new Promise((r) => setTimeout(r, 400));
    const termAt = performance.now();
    const done = await Promise.all(nodes.map(term));
    const result = await transfer;
    assert.deepEqual(done.map((d) => d.code), [0, 0], "both nodes exit 0");
    assert.ok(!result.complete, "the transfer did not finish");
    assert.equal(result.readEnd, "reset", `cut with a reset, not a FIN (${result.error})`);
    assert.ok(result.sent < 60 * 4096);
    const cutAfter = result.endedAt - termAt;
    assert.ok(
      cutAfter >= 900 && cutAfter < 2_500,
      `cut at the 1 s deadline (after ${Math.round(cutAfter)} ms)`,
    );
    for (const d of done) {
      const after = d.exitedAt - termAt;
      assert.ok(after >= 900 && after < 3_000, `exited at the deadline (after ${Math.round(after)} ms)`);
    }
    // Whichever node's deadline fires first cuts the connection; the other then sees it end.
    const warnings = nodes.flatMap((n) => n.logs.filter((l) => l.message === "drain deadline reached"));
    assert.ok(warnings.length >= 1, "a node says it cut the connection at the deadline");
    assert.ok(warnings.every((w) => w.aborted === 1));
  });
});
