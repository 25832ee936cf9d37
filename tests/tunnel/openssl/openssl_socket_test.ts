/** OpenSslSocket against itself: mutual TLS 1.3 over loopback, refusals, bulk data, teardown. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { ZtError } from "../../../lib/error.ts";
import { TlsContext } from "../../../lib/tunnel/openssl/openssl_context.ts";
import { OpenSslSocket } from "../../../lib/tunnel/openssl/openssl_socket.ts";
import { peerUriSans } from "../../../lib/tunnel/openssl/openssl_peer.ts";
import { collect, pattern, tcpPair, tlsPair, writeAll } from "./tls_pair.ts";

Deno.test("openssl: mTLS handshake, peer facts on both ends", async () => {
  const pki = await makeTestPki();
  const p = await tlsPair(await pki.issue("demo", "client"), await pki.issue("demo", "server"));
  try {
    assert.equal(p.client.authorized, true);
    assert.equal(p.server.authorized, true);
    assert.deepEqual(peerUriSans(p.client.peer!), ["spiffe://cluster.local/ns/demo/sa/server"]);
    assert.deepEqual(peerUriSans(p.server.peer!), ["spiffe://cluster.local/ns/demo/sa/client"]);
    assert.equal(p.client.peer!.cipher, "TLS_AES_256_GCM_SHA384");
    // ALPN: the server's select callback needs an unscoped --allow-ffi (the tests run with -A).
    assert.equal(p.client.alpnProtocol, "h2");
    assert.equal(p.server.alpnProtocol, "h2");
    assert.equal(p.client.remoteAddr.port, p.server.localAddr.port);
    p.client.setNoDelay(true);
  } finally {
    p.close();
    await pki.cleanup();
  }
});

Deno.test("openssl: a client certificate from another CA is refused by the server", async () => {
  const pki = await makeTestPki();
  const other = await makeTestPki();
  const sctx = TlsContext.create(await pki.issue("demo", "server"), "server");
  // The client trusts the server's roots but holds a certificate from a foreign CA.
  const foreign = await other.issue("demo", "client");
  const cctx = TlsContext.create({ ...foreign, rootsPem: (await pki.issue("x", "y")).rootsPem }, "client");
  try {
    const [c, s] = await tcpPair();
    const [cr, sr] = await Promise.allSettled([
      OpenSslSocket.connect(c, cctx, "client", 5000),
      OpenSslSocket.connect(s, sctx, "server", 5000),
    ]);
    assert.equal(sr.status, "rejected");
    assert.ok(sr.reason instanceof ZtError && sr.reason.kind === "tls", String(sr.reason));
    assert.match(sr.reason.message, /certificate/);
    // TLS 1.3: the client finishes before the server judges its certificate; the alert then ends it.
    if (cr.status === "fulfilled") {
      const err = await new Promise<Error | undefined>((resolve) => {
        let e: Error | undefined;
        cr.value.on("error", (x) => (e = x));
        cr.value.on("close", () => resolve(e));
      });
      assert.ok(err, "client socket must fail on the server's alert");
      assert.match(err.message, /alert|certificate/);
    }
  } finally {
    sctx.close();
    cctx.close();
    await pki.cleanup();
    await other.cleanup();
  }
});

Deno.test("openssl: a server certificate from another CA is refused by the client", async () => {
  const pki = await makeTestPki();
  const other = await makeTestPki();
  const cctx = TlsContext.create(await pki.issue("demo", "client"), "client");
  const sctx = TlsContext.create(await other.issue("demo", "server"), "server");
  try {
    const [c, s] = await tcpPair();
    const [cr, sr] = await Promise.allSettled([
      OpenSslSocket.connect(c, cctx, "client", 5000),
      OpenSslSocket.connect(s, sctx, "server", 5000),
    ]);
    assert.equal(cr.status, "rejected");
    assert.match(String(cr.reason), /unable to get local issuer certificate|certificate verify failed/);
    assert.equal(sr.status, "rejected");
  } finally {
    sctx.close();
    cctx.close();
    await pki.cleanup();
    await other.cleanup();
  }
});

Deno.test("openssl: handshake times out when the peer says nothing", async () => {
  const pki = await makeTestPki();
  const sctx = TlsContext.create(await pki.issue("demo", "server"), "server");
  const [c, s] = await tcpPair();
  try {
    const t0 = performance.now();
    await assert.rejects(OpenSslSocket.connect(s, sctx, "server", 200), /timed out after 200 ms/);
    assert.ok(performance.now() - t0 < 2000);
  } finally {
    c.close();
    sctx.close();
    await pki.cleanup();
  }
});

Deno.test("openssl: 64 MiB each way, byte-exact, with half-close", async () => {
  const pki = await makeTestPki();
  const p = await tlsPair(await pki.issue("demo", "client"), await pki.issue("demo", "server"), {
    allowHalfOpen: true,
  });
  try {
    const up = pattern(64 << 20, 1);
    const down = pattern(64 << 20, 2);
    const serverGot: Uint8Array[] = [];
    let serverTotal = 0;
    p.server.on("data", (c) => {
      serverGot.push(c);
      serverTotal += c.length;
    });
    // The server answers only after the client's half-close: its sending half must stay open.
    p.server.on("end", () => writeAll(p.server, down));
    const serverClosed = new Promise<void>((r) => p.server.on("close", r));
    const clientGot = collect(p.client);
    await writeAll(p.client, up);
    const back = await clientGot;
    await serverClosed;
    assert.equal(serverTotal, up.length);
    const joined = new Uint8Array(serverTotal);
    let o = 0;
    for (const c of serverGot) {
      joined.set(c, o);
      o += c.length;
    }
    assert.ok(Buffer.compare(joined, up) === 0, "client → server bytes differ");
    assert.equal(back.length, down.length);
    assert.ok(Buffer.compare(back, down) === 0, "server → client bytes differ");
    assert.equal(p.client.isClosed, true);
    assert.equal(p.server.isClosed, true);
  } finally {
    p.close();
    await pki.cleanup();
  }
});

Deno.test("openssl: destroy mid-transfer closes both ends without native errors", async () => {
  const pki = await makeTestPki();
  const p = await tlsPair(await pki.issue("demo", "client"), await pki.issue("demo", "server"));
  try {
    let got = 0;
    const serverClosed = new Promise<void>((r) => p.server.on("close", r));
    p.server.on("error", () => {});
    p.server.on("data", (c) => {
      got += c.length;
      // Destroy from inside a data listener: the read loop must not touch the freed SSL object.
      if (got > 1 << 20) p.server.destroy();
    });
    const clientClosed = new Promise<void>((r) => p.client.on("close", r));
    p.client.on("error", () => {});
    writeAll(p.client, pattern(16 << 20)).catch(() => {});
    await serverClosed;
    await clientClosed;
    assert.ok(got > 1 << 20);
    assert.equal(p.client.write(new Uint8Array(10)), false);
  } finally {
    p.close();
    await pki.cleanup();
  }
});
