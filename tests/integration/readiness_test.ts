/**
 * Readiness on a real node (ztunnel's 15021 /healthz/ready): bound first, it answers 500 naming the
 * pending startup tasks while the node loads its config and issues its pods' certificates, then 200
 * once startup completes, and stays 200; by then the pods' listeners accept connections.
 */
import assert from "node:assert/strict";
import { startEchoServer } from "../fakes/echo_server.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod, pattern, sameBytes } from "../fakes/mesh_config.ts";

const NODE = { name: "ready-a", ip: "127.40.7.1" };
/** Ten local pods with their own service accounts: ten certificates to issue before ready. */
const PODS = Array.from({ length: 10 }, (_, i) => ({
  name: `pod-${i}`,
  ip: `127.40.7.${20 + i}`,
  node: NODE.name,
  serviceAccount: `sa-${i}`,
}));

interface Probe {
  readonly status: number;
  readonly body: string;
}

Deno.test("readiness: 500 with the pending tasks during startup, then 200", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-ready-" });
  const { caDir, configPath } = await writeMeshFiles(dir, { workloads: PODS.map(meshPod) });
  const echo = startEchoServer(PODS[1].ip, 7070);
  const url = `http://${NODE.ip}:15021/healthz/ready`;
  let node: NodeProcess | undefined;
  const starting = startNode({ ...NODE, caDir, configPath }).then((n) => (node = n));
  try {
    // Poll as fast as possible from spawn: nothing listens at first, then 500s, then 200.
    const probes: Probe[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(url);
        const p = { status: res.status, body: (await res.text()).trim() };
        if (probes.at(-1)?.body !== p.body) probes.push(p);
        if (p.status === 200) break;
      } catch { /* not bound yet */ }
    }
    assert.ok(probes.length >= 2, `saw more than the final answer: ${JSON.stringify(probes)}`);
    const [first, ...rest] = probes;
    assert.equal(first.status, 500, "the first answer is 500");
    assert.match(first.body, /^not ready, pending: /);
    for (const task of ["certificates", "proxy"]) {
      assert.ok(first.body.includes(task), `${task} pending at first`);
    }
    const last = rest.at(-1)!;
    assert.deepEqual(last, { status: 200, body: "ready" });
    for (const p of probes.slice(0, -1)) assert.equal(p.status, 500, "no 200 before startup completes");

    // Ready means ready: the pods' listeners work now, and readiness stays 200.
    const { reply, conn } = await socks5Connect({ ip: PODS[0].ip, port: 15080 }, PODS[1].ip, 7070);
    assert.equal(reply, 0);
    const data = pattern(1000, 1);
    assert.ok(sameBytes(await roundTrip(conn, data), data));
    for (let i = 0; i < 5; i++) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    await starting;
    assert.ok(
      node!.logs.some((l) => l.message === "zt ready" && l.pods === PODS.length),
      "all pods are served",
    );
  } finally {
    await starting.catch(() => {});
    const code = node ? await node.stop() : -1;
    await echo.close();
    await Deno.remove(dir, { recursive: true });
    assert.equal(code, 0);
  }
});
