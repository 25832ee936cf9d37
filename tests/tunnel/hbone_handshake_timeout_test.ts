/**
 * The HBONE server's TLS handshake timeout (node:tls backend): a connection that never finishes its
 * handshake — nothing sent, or half a ClientHello — is closed after the timeout and counted as a
 * refused `tls` connection. (Deno reports the timeout as tlsClientError but leaves the socket open.)
 */
import assert from "node:assert/strict";
import { makeTestPki } from "../fakes/test_pki.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import { HboneServer } from "../../lib/tunnel/hbone_server.ts";
import { DEFAULT_H2_OPTIONS } from "../../lib/tunnel/h2/session.ts";
import { silentLogger } from "../../lib/log/logger.ts";

const HOST = "127.70.2.1";

/** ms until the server closes `c` (EOF or reset), or undefined if it is still open after `ms`. */
async function closedWithin(c: Deno.Conn, ms: number): Promise<number | undefined> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    c.read(new Uint8Array(64)).then(() => true, () => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  c.close();
  return closed ? performance.now() - t0 : undefined;
}

Deno.test("hbone: a TLS handshake that never finishes is closed after the handshake timeout and counted", async () => {
  const pki = await makeTestPki();
  const rejected: string[] = [];
  const server = new HboneServer({
    listener: hostFactory().listenTcp({ ip: HOST, port: 0 }),
    cert: await pki.issue("demo", "server"),
    h2: DEFAULT_H2_OPTIONS,
    log: silentLogger(),
    onTunnel: () => {},
    onRejected: (kind) => rejected.push(kind),
    handshakeTimeoutMs: 300,
  });
  await server.listen();
  try {
    const port = server.address.port;
    const silent = await Deno.connect({ hostname: HOST, port });
    const half = await Deno.connect({ hostname: HOST, port });
    await half.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])); // a ClientHello's start
    const [a, b] = await Promise.all([closedWithin(silent, 5000), closedWithin(half, 5000)]);
    assert.ok(a !== undefined && a >= 200, `silent connection closed after ${a} ms`);
    assert.ok(b !== undefined && b >= 200, `half a ClientHello: closed after ${b} ms`);
    assert.deepEqual(rejected, ["tls", "tls"]);
  } finally {
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});
