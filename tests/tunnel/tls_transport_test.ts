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

Deno.test("tls transport: a paused TLS socket stops reading its transport (the peer is pushed back); resume delivers every byte", async () => {
  const pki = await makeTestPki();
  const server = tls.createServer({ ...tlsOptions(await pki.issue("demo", "server")), requestCert: true });
  let got = 0;
  let sum = 0;
  const serverSide = new Promise<tls.TLSSocket>((resolve) => {
    server.on("secureConnection", (t: tls.TLSSocket) => {
      tieToTransport(t, transportOf(t)!);
      t.on("data", (c: Uint8Array) => {
        got += c.length;
        for (const b of c) sum = (sum + b) % 65521;
      });
      t.pause();
      resolve(t);
    });
  });
  const l = hostFactory().listenTcp({ ip: "127.0.0.1", port: 0 });
  l.serve({ onConnection: ({ socket }) => server.emit("connection", socket) });
  const raw = await hostFactory().connectTcp(l.address);
  const c = tls.connect({
    ...tlsOptions(await pki.issue("demo", "client")),
    socket: raw,
    checkServerIdentity: () => undefined,
  });
  try {
    await new Promise((r) => c.once("secureConnect", r));
    const t = await serverSide;
    const chunk = new Uint8Array(1 << 20).map((_, i) => i * 7);
    let sent = 0;
    let sentSum = 0;
    let blocked = false;
    while (sent < 64 << 20 && !blocked) {
      sent += chunk.length;
      for (const b of chunk) sentSum = (sentSum + b) % 65521;
      if (!c.write(chunk)) {
        blocked = !await Promise.race([
          new Promise<boolean>((r) => c.once("drain", () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
        ]);
      }
    }
    assert.ok(blocked, `the client's writes block while the server is paused (${sent} bytes went out)`);
    assert.equal(got, 0);
    t.resume();
    await new Promise<void>((r) => {
      const check = () => got >= sent ? r() : setTimeout(check, 10);
      check();
    });
    assert.equal(got, sent);
    assert.equal(sum, sentSum);
  } finally {
    c.destroy();
    l.close();
    await pki.cleanup();
  }
});
