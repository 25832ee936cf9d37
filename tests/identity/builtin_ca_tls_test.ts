/** The built-in CA's output works with node:tls mTLS (TLS 1.3), the way the HBONE listener uses it. */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import type { WorkloadCertificate } from "../../lib/identity/certificate.ts";
import { makeTestPki } from "../fakes/test_pki.ts";

interface ServerResult {
  /** SAN of each accepted client. */
  accepted: string[];
  /** Handshake errors. */
  refused: Error[];
  port: number;
  close(): Promise<void>;
}

async function startServer(cert: WorkloadCertificate): Promise<ServerResult> {
  const accepted: string[] = [];
  const refused: Error[] = [];
  const server = tls.createServer({
    key: cert.keyPem,
    cert: cert.certChainPem.join(""),
    ca: cert.rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  }, (socket) => {
    const san = socket.getPeerCertificate().subjectaltname ?? "";
    accepted.push(san);
    socket.end(san);
  });
  server.on("tlsClientError", (err) => refused.push(err));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    accepted,
    refused,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface ClientResult {
  /** What the server wrote back (its view of our SAN); undefined when the connection failed. */
  echoed?: string;
  serverSan?: string;
  error?: Error;
}

function connect(port: number, cert: WorkloadCertificate | undefined, ca: string[]): Promise<ClientResult> {
  return new Promise((resolve) => {
    const result: ClientResult = {};
    let data = "";
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      key: cert?.keyPem,
      cert: cert?.certChainPem.join(""),
      ca,
      minVersion: "TLSv1.3",
      // Workload certs carry no DNS names; zt checks the SPIFFE SAN instead.
      checkServerIdentity: () => undefined,
    }, () => {
      result.serverSan = socket.getPeerCertificate().subjectaltname;
    });
    socket.setEncoding("utf8");
    socket.on("data", (d) => (data += d));
    socket.on("error", (e) => (result.error = e));
    socket.on("close", () => {
      if (data) result.echoed = data;
      resolve(result);
    });
  });
}

Deno.test("node:tls mTLS with leaves from the built-in CA; another CA's client is refused", async () => {
  const pki = await makeTestPki();
  const other = await makeTestPki();
  const serverCert = await pki.issue("default", "server");
  const srv = await startServer(serverCert);
  try {
    const good = await connect(srv.port, await pki.issue("default", "client"), pki.ca.rootsPem);
    assert.equal(good.error, undefined);
    assert.equal(good.echoed, "URI:spiffe://cluster.local/ns/default/sa/client");
    assert.equal(good.serverSan, "URI:spiffe://cluster.local/ns/default/sa/server");
    assert.deepEqual(srv.accepted, ["URI:spiffe://cluster.local/ns/default/sa/client"]);

    // A client whose leaf comes from an independent CA (it trusts our root, so it completes its side).
    const rogue = await connect(srv.port, await other.issue("default", "client"), pki.ca.rootsPem);
    assert.equal(rogue.echoed, undefined);
    assert.equal(srv.accepted.length, 1);
    assert.equal(srv.refused.length, 1);

    // A client without a certificate is refused too.
    const anonymous = await connect(srv.port, undefined, pki.ca.rootsPem);
    assert.equal(anonymous.echoed, undefined);
    assert.equal(srv.accepted.length, 1);
    assert.equal(srv.refused.length, 2);

    // A client that trusts only the other CA refuses our server.
    const picky = await connect(srv.port, await other.issue("default", "client"), other.ca.rootsPem);
    assert.equal(picky.echoed, undefined);
    assert.ok(picky.error, "client should reject the server certificate");
    assert.equal(srv.accepted.length, 1);
  } finally {
    await srv.close();
    await pki.cleanup();
    await other.cleanup();
  }
});
