/**
 * node:tls over sockets zt made itself: when the peer ends a TLS connection, zt's side closes too and
 * the socket's fd is released — on the server side (tls.Server fed by zt's accept loop) and on the
 * client side (tls.connect over a socket from the factory).
 */
import assert from "node:assert/strict";
import type net from "node:net";
import tls from "node:tls";
import { makeTestPki } from "../fakes/test_pki.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import { tlsOptions } from "../../lib/tunnel/tls.ts";
import { tieToTransport, transportOf } from "../../lib/tunnel/tls_transport.ts";

function closed(s: net.Socket): Promise<void> {
  return s.destroyed ? Promise.resolve() : new Promise((r) => s.once("close", () => r()));
}

Deno.test("tls transport: the peer's end closes zt's TLS socket and its transport, both roles", async () => {
  const pki = await makeTestPki();
  const server = tls.createServer({ ...tlsOptions(await pki.issue("demo", "server")), requestCert: true });
  const serverSide = new Promise<{ t: tls.TLSSocket; raw: net.Socket }>((resolve) => {
    server.on("secureConnection", (t: tls.TLSSocket) => {
      const raw = transportOf(t)!;
      tieToTransport(t, raw);
      resolve({ t, raw });
    });
  });
  const l = hostFactory().listenTcp({ ip: "127.0.0.1", port: 0 });
  l.serve({ onConnection: ({ socket }) => server.emit("connection", socket) });
  const f = hostFactory();
  try {
    // Client side: the client ends, the server's TLS socket and its transport close.
    const raw1 = await f.connectTcp(l.address);
    const c1 = tls.connect({
      ...tlsOptions(await pki.issue("demo", "client")),
      socket: raw1,
      checkServerIdentity: () => undefined,
    });
    await new Promise((r) => c1.once("secureConnect", r));
    tieToTransport(c1, raw1);
    const s1 = await serverSide;
    assert.ok(s1.raw !== undefined, "the server's TLS socket names its transport");
    c1.end();
    await Promise.all([closed(s1.raw), closed(raw1)]);
    assert.ok(s1.raw.destroyed && raw1.destroyed);
  } finally {
    l.close();
    await pki.cleanup();
  }
});
