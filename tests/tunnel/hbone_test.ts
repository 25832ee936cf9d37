/**
 * zt's HBONE client and server against each other and against a different HTTP/2 stack: Node's own
 * `node:http2` (libnghttp2, in C), in both directions, over mutual TLS.
 */
import assert from "node:assert/strict";
import { echoStream, readAll } from "../fakes/h2_streams.ts";
import http2 from "node:http2";
import net from "node:net";
import { makeTestPki } from "../fakes/test_pki.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import { HboneServer, type InboundTunnel } from "../../lib/tunnel/hbone_server.ts";
import { HboneConnectError, HbonePool } from "../../lib/tunnel/hbone_pool.ts";
import { DEFAULT_H2_OPTIONS } from "../../lib/tunnel/h2/session.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import type { WorkloadCertificate } from "../../lib/identity/certificate.ts";

const SERVER_ID = "spiffe://cluster.local/ns/demo/sa/server";

function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

async function startServer(
  cert: WorkloadCertificate,
  onTunnel: (t: InboundTunnel) => void,
): Promise<HboneServer> {
  const server = new HboneServer({
    listener: hostFactory().listenTcp({ ip: "127.0.0.1", port: 0 }),
    cert,
    h2: DEFAULT_H2_OPTIONS,
    log: silentLogger(),
    onTunnel,
  });
  await server.listen();
  return server;
}

function newPool(): HbonePool {
  return new HbonePool({
    h2: DEFAULT_H2_OPTIONS,
    maxStreamsPerConnection: 100,
    idleTimeoutMs: 60_000,
    log: silentLogger(),
  });
}

Deno.test("hbone: zt client ⇄ zt server, echo with half-close, 2 MiB", async () => {
  const pki = await makeTestPki();
  const server = await startServer(await pki.issue("demo", "server"), (t) => {
    assert.equal(t.peerIdentity.serviceAccount, "client");
    assert.deepEqual(t.headers.find(([k]) => k === ":authority"), [":authority", "10.0.0.1:80"]);
    t.respond(200);
    echoStream(t.stream);
  });
  const pool = newPool();
  try {
    const cert = await pki.issue("demo", "client");
    const res = await pool.connect({
      cert,
      expectedIdentities: [SERVER_ID],
      ip: "127.0.0.1",
      port: server.address.port,
      factory: hostFactory(),
    }, "10.0.0.1:80");
    assert.equal(res.status, 200);
    const data = bytes(2 << 20);
    const reading = readAll(res.stream);
    await res.stream.writeBytes(data);
    res.stream.end();
    assert.deepEqual(await reading, data);
  } finally {
    pool.close();
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});

Deno.test("hbone: the client refuses a server without an expected identity", async () => {
  const pki = await makeTestPki();
  const server = await startServer(await pki.issue("demo", "server"), (t) => t.respond(200));
  const pool = newPool();
  try {
    const cert = await pki.issue("demo", "client");
    await assert.rejects(
      pool.connect({
        cert,
        expectedIdentities: ["spiffe://cluster.local/ns/demo/sa/other"],
        ip: "127.0.0.1",
        port: server.address.port,
        factory: hostFactory(),
      }, "10.0.0.1:80"),
      (e) => e instanceof HboneConnectError && e.kind === "tls" && /not one of the expected/.test(e.message),
    );
  } finally {
    pool.close();
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});

Deno.test("hbone: the server refuses another CA's client and a foreign trust domain", async () => {
  const pki = await makeTestPki();
  const other = await makeTestPki();
  const foreignTd = await makeTestPki({ trustDomain: "evil.example" });
  let tunnels = 0;
  let refused = 0;
  const server = new HboneServer({
    listener: hostFactory().listenTcp({ ip: "127.0.0.1", port: 0 }),
    cert: await pki.issue("demo", "server"),
    h2: DEFAULT_H2_OPTIONS,
    log: silentLogger(),
    onTunnel: (t) => {
      tunnels++;
      t.respond(200);
    },
    onRejected: (kind) => {
      if (kind === "tls") refused++;
    },
  });
  await server.listen();
  const pool = newPool();
  try {
    // A client certificate from another CA: the TLS handshake fails.
    const rogue = await other.issue("demo", "client");
    await assert.rejects(
      pool.connect({
        cert: { ...rogue, rootsPem: (await pki.issue("x", "y")).rootsPem },
        expectedIdentities: [SERVER_ID],
        ip: "127.0.0.1",
        port: server.address.port,
        factory: hostFactory(),
      }, "10.0.0.1:80"),
    );
    // Signed by the mesh CA but for another trust domain: accepted by TLS, refused by zt.
    const td = await pki.issue("demo", "client", { trustDomain: "evil.example" });
    await assert.rejects(
      pool.connect(
        {
          cert: td,
          expectedIdentities: [SERVER_ID],
          ip: "127.0.0.1",
          port: server.address.port,
          factory: hostFactory(),
        },
        "10.0.0.1:80",
      ),
    );
    assert.equal(tunnels, 0);
    assert.ok(refused >= 1);
  } finally {
    pool.close();
    server.close();
    await server.closed();
    await Promise.all([pki.cleanup(), other.cleanup(), foreignTd.cleanup()]);
  }
});

Deno.test("hbone: a client without a certificate is refused", async () => {
  const pki = await makeTestPki();
  let tunnels = 0;
  const server = await startServer(await pki.issue("demo", "server"), () => tunnels++);
  try {
    const s = await pki.issue("x", "y");
    const session = http2.connect(`https://127.0.0.1:${server.address.port}`, {
      ca: s.rootsPem,
      checkServerIdentity: () => undefined,
    });
    const failed = await new Promise<boolean>((resolve) => {
      session.on("error", () => resolve(true));
      session.on("close", () => resolve(true));
      const req = session.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" });
      req.on("error", () => resolve(true));
      req.on("response", () => resolve(false));
    });
    session.destroy();
    assert.equal(failed, true);
    assert.equal(tunnels, 0);
  } finally {
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});

Deno.test("interop: node:http2 (nghttp2) client → zt HBONE server", async () => {
  const pki = await makeTestPki();
  const server = await startServer(await pki.issue("demo", "server"), (t) => {
    t.respond(200);
    echoStream(t.stream);
  });
  const cert = await pki.issue("demo", "client");
  const session = http2.connect(`https://127.0.0.1:${server.address.port}`, {
    key: cert.keyPem,
    cert: cert.certChainPem.join("\n"),
    ca: cert.rootsPem,
    checkServerIdentity: () => undefined,
    ALPNProtocols: ["h2"],
  });
  try {
    const data = Buffer.from(bytes(300_000));
    const got = await new Promise<Buffer>((resolve, reject) => {
      const req = session.request({ ":method": "CONNECT", ":authority": "10.0.0.1:80" });
      const parts: Buffer[] = [];
      req.on("response", (h) => {
        if (h[":status"] !== 200) reject(new Error(`status ${h[":status"]}`));
      });
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("end", () => resolve(Buffer.concat(parts)));
      req.on("error", reject);
      req.end(data);
    });
    assert.equal(Buffer.compare(got, data), 0);
  } finally {
    session.close();
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});

Deno.test("interop: zt HBONE client → node:http2 (nghttp2) server", async () => {
  const pki = await makeTestPki();
  const sc = await pki.issue("demo", "server");
  const h2 = http2.createSecureServer({
    key: sc.keyPem,
    cert: sc.certChainPem.join("\n"),
    ca: sc.rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ["h2"],
  });
  let authority = "";
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    authority = String(headers[":authority"]);
    stream.respond({ ":status": 200 });
    stream.pipe(stream); // echo, END_STREAM after the client's
  });
  await new Promise<void>((r) => h2.listen(0, "127.0.0.1", () => r()));
  const port = (h2.address() as net.AddressInfo).port;
  const pool = newPool();
  try {
    const res = await pool.connect({
      cert: await pki.issue("demo", "client"),
      expectedIdentities: [SERVER_ID],
      ip: "127.0.0.1",
      port,
      factory: hostFactory(),
    }, "10.9.8.7:443");
    assert.equal(res.status, 200);
    const data = bytes(500_000);
    const reading = readAll(res.stream);
    await res.stream.writeBytes(data);
    res.stream.end();
    assert.deepEqual(await reading, data);
    assert.equal(authority, "10.9.8.7:443");
  } finally {
    pool.close();
    await new Promise((r) => h2.close(r));
    await pki.cleanup();
  }
});
