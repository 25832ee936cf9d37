/**
 * A CONNECT through the HBONE pool to a server that never answers is not waited on forever: the pool's
 * request carries a response timeout, the stream is reset, and the caller gets a typed error.
 */
import assert from "node:assert/strict";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { hostFactory } from "../../fakes/socket_kit.ts";
import { HboneServer, type InboundTunnel } from "../../../lib/tunnel/hbone_server.ts";
import { HboneConnectError, HbonePool } from "../../../lib/tunnel/hbone_pool.ts";
import { DEFAULT_H2_OPTIONS } from "../../../lib/tunnel/h2/session.ts";
import { H2Error } from "../../../lib/tunnel/h2/h2_error.ts";
import { ErrorCode } from "../../../lib/tunnel/h2/frame.ts";
import { silentLogger } from "../../../lib/log/logger.ts";

Deno.test("hbone pool: no CONNECT response within responseTimeoutMs → HboneConnectError(timeout), stream reset", async () => {
  const pki = await makeTestPki();
  const tunnels: InboundTunnel[] = [];
  const server = new HboneServer({
    listener: hostFactory().listenTcp({ ip: "127.41.0.2", port: 0 }),
    cert: await pki.issue("demo", "server"),
    h2: DEFAULT_H2_OPTIONS,
    log: silentLogger(),
    onTunnel: (t) => tunnels.push(t), // never answers
  });
  await server.listen();
  const pool = new HbonePool({
    h2: DEFAULT_H2_OPTIONS,
    maxStreamsPerConnection: 100,
    idleTimeoutMs: 60_000,
    responseTimeoutMs: 100,
    log: silentLogger(),
  });
  try {
    const target = {
      cert: await pki.issue("demo", "client"),
      expectedIdentities: ["spiffe://cluster.local/ns/demo/sa/server"],
      ip: "127.41.0.2",
      port: server.address.port,
      factory: hostFactory(),
    };
    const start = performance.now();
    await assert.rejects(
      pool.connect(target, "10.0.0.1:80"),
      (e: unknown) => e instanceof HboneConnectError && e.failure === "timeout",
    );
    assert.ok(performance.now() - start < 5000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(tunnels.length, 1);
    const err = tunnels[0].stream.error;
    assert.ok(err instanceof H2Error && err.code === ErrorCode.CANCEL, "the server saw the stream reset");
    assert.equal(pool.connectionCount, 1, "the connection itself stays pooled");
  } finally {
    pool.close();
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});
