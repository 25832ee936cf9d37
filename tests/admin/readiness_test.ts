import assert from "node:assert/strict";
import { Readiness, serveReadiness } from "../../lib/admin/readiness.ts";

Deno.test("readiness: ready only once every registered task is done", () => {
  const r = new Readiness();
  assert.equal(r.ready, true);
  const doneState = r.register("state manager");
  const doneProxy = r.register("proxy");
  assert.equal(r.ready, false);
  assert.deepEqual(r.pending(), ["proxy", "state manager"]);
  doneProxy();
  doneProxy(); // idempotent
  assert.deepEqual(r.pending(), ["state manager"]);
  doneState();
  assert.equal(r.ready, true);
  // a task can make the node not ready again
  const again = r.register("workload proxy manager");
  assert.deepEqual(r.pending(), ["workload proxy manager"]);
  again();
  assert.equal(r.ready, true);
});

Deno.test("readiness server: 500 with pending tasks, then 200 ready", async () => {
  const readiness = new Readiness();
  const doneA = readiness.register("state manager");
  const doneB = readiness.register("dns proxy");
  const server = serveReadiness({ hostname: "127.0.0.1", port: 0, readiness });
  const url = `http://127.0.0.1:${server.addr.port}/healthz/ready`;
  try {
    let res = await fetch(url);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "not ready, pending: dns proxy, state manager\n");
    doneB();
    res = await fetch(url);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "not ready, pending: state manager\n");
    doneA();
    res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ready\n");
    const nf = await fetch(`http://127.0.0.1:${server.addr.port}/healthz/live`);
    assert.equal(nf.status, 404);
    await nf.body?.cancel();
    const post = await fetch(url, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
