/**
 * OpenSslSocket against a different TLS stack: node:tls (rustls-based in Deno) as server and as
 * client, with zt's own HBONE TLS options (mTLS, TLS 1.3, ALPN h2).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import tls from "node:tls";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { tlsOptions } from "../../../lib/tunnel/tls.ts";
import { TlsContext } from "../../../lib/tunnel/openssl/openssl_context.ts";
import { OpenSslSocket } from "../../../lib/tunnel/openssl/openssl_socket.ts";
import { peerUriSans } from "../../../lib/tunnel/openssl/openssl_peer.ts";
import { collect, pattern, writeAll } from "./tls_pair.ts";

/** A test PKI, an OpenSSL server context and a loopback listener for it; `close` undoes all three. */
async function opensslServer() {
  const pki = await makeTestPki();
  const ctx = TlsContext.create(await pki.issue("demo", "server"), "server");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const close = async () => {
    listener.close();
    ctx.close();
    await pki.cleanup();
  };
  return { pki, ctx, listener, close };
}

Deno.test("openssl interop: OpenSslSocket client ⇄ node:tls server, 8 MiB echo", async () => {
  const pki = await makeTestPki();
  const server = tls.createServer({ ...tlsOptions(await pki.issue("demo", "server")), requestCert: true });
  let serverSaw: { authorized: boolean; alpn: unknown; sans: unknown } | undefined;
  server.on("secureConnection", (s: tls.TLSSocket) => {
    serverSaw = {
      authorized: s.authorized,
      alpn: s.alpnProtocol,
      sans: s.getPeerCertificate().subjectaltname,
    };
    // Echo, ending after the client does. (Not s.pipe(s): under Deno's node:tls a self-pipe that
    // hits backpressure never sees the peer's end, node:tls client or not.)
    s.on("data", (d: Uint8Array) => s.write(d));
    s.on("end", () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const ctx = TlsContext.create(await pki.issue("demo", "client"), "client");
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const sock = await OpenSslSocket.connect(conn, ctx, "client", 5000);
    assert.equal(sock.authorized, true);
    assert.equal(sock.alpnProtocol, "h2");
    assert.deepEqual(peerUriSans(sock.peer!), ["spiffe://cluster.local/ns/demo/sa/server"]);
    const data = pattern(8 << 20);
    const back = collect(sock);
    await writeAll(sock, data);
    const got = await back;
    assert.equal(got.length, data.length);
    assert.ok(Buffer.compare(got, data) === 0);
    assert.deepEqual(serverSaw, {
      authorized: true,
      alpn: "h2",
      sans: "URI:spiffe://cluster.local/ns/demo/sa/client",
    });
  } finally {
    ctx.close();
    await new Promise((r) => server.close(r));
    await pki.cleanup();
  }
});

Deno.test("openssl interop: node:tls client ⇄ OpenSslSocket server, 50 echo rounds", async () => {
  const { pki, ctx, listener, close } = await opensslServer();
  const served = (async () => {
    const conn = await listener.accept() as Deno.TcpConn;
    const sock = await OpenSslSocket.connect(conn, ctx, "server", 5000);
    sock.on("data", (c) => sock.write(c)); // echo; ends when the client ends (no half-open)
    await new Promise<void>((r) => sock.on("close", r));
    return sock;
  })();
  try {
    const client = tls.connect({
      ...tlsOptions(await pki.issue("demo", "client")),
      host: "127.0.0.1",
      port: listener.addr.port,
      servername: "",
      checkServerIdentity: () => undefined,
    });
    await new Promise<void>((resolve, reject) => {
      client.once("secureConnect", resolve);
      client.once("error", reject);
    });
    assert.equal(client.authorized, true);
    assert.equal(client.alpnProtocol, "h2");
    // Request/response rounds. (Bulk from Deno's node:tls client to an OpenSSL server stalls with
    // its last 80 KiB unsent, node:tls server or not being the difference: see the ignored test.)
    let pending: ((c: Buffer) => void) | undefined;
    let acc = Buffer.alloc(0);
    client.on("data", (c: Buffer) => {
      acc = Buffer.concat([acc, c]);
      pending?.(acc);
    });
    for (let i = 0; i < 50; i++) {
      const msg = pattern(1000 + i * 100, i);
      const back = new Promise<Buffer>((r) => (pending = (a) => a.length >= msg.length && r(a)));
      client.write(msg);
      const got = await back;
      assert.ok(Buffer.compare(got, msg) === 0, `round ${i}`);
      acc = Buffer.alloc(0);
    }
    const done = new Promise<void>((r) => client.on("end", r));
    client.end();
    await done;
    const sock = await served;
    assert.equal(sock.authorized, true);
    assert.deepEqual(peerUriSans(sock.peer!), ["spiffe://cluster.local/ns/demo/sa/client"]);
    client.destroy();
  } finally {
    await close();
  }
});

Deno.test("openssl interop: a node:tls client without a certificate is refused", async () => {
  const { pki, ctx, listener, close } = await opensslServer();
  const served = (async () => {
    const conn = await listener.accept() as Deno.TcpConn;
    return await OpenSslSocket.connect(conn, ctx, "server", 5000);
  })();
  try {
    const { key: _k, cert: _c, ...noCert } = tlsOptions(await pki.issue("demo", "client"));
    const client = tls.connect({
      ...noCert,
      host: "127.0.0.1",
      port: listener.addr.port,
      servername: "",
      checkServerIdentity: () => undefined,
    });
    const clientEnd = new Promise<void>((r) => {
      client.on("error", () => r());
      client.on("close", () => r());
    });
    await assert.rejects(served, /certificate/);
    await clientEnd;
  } finally {
    await close();
  }
});

Deno.test({
  name:
    "openssl interop: node:tls client (reading, as an HBONE client does) bulk write to an OpenSslSocket server, 100 kB",
  // Deno's node:tls quirk, measured: a client socket that was never put in flowing mode sends only the
  // first ~18 kB of a large write until it ends. Once it reads (or after it has read once, then paused)
  // every byte goes out at once. zt's HBONE client always reads (its H2 session), so the test does too.
  fn: async () => {
    const { pki, ctx, listener, close } = await opensslServer();
    let got = 0;
    const served = (async () => {
      const sock = await OpenSslSocket.connect(await listener.accept() as Deno.TcpConn, ctx, "server", 5000);
      sock.on("data", (c) => (got += c.length));
      return sock;
    })();
    const client = tls.connect({
      ...tlsOptions(await pki.issue("demo", "client")),
      host: "127.0.0.1",
      port: listener.addr.port,
      servername: "",
      checkServerIdentity: () => undefined,
    });
    try {
      await new Promise((r) => client.once("secureConnect", r));
      client.resume();
      client.write(pattern(100_000));
      const t0 = performance.now();
      while (got < 100_000 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
      assert.equal(got, 100_000);
    } finally {
      client.destroy();
      (await served).destroy();
      await close();
    }
  },
});
