/**
 * Istio's HBONE client (istio.io/istio/pkg/hbone's dialer over Go's crypto/tls: tests/peers/istio_hbone)
 * → zt's HBONE server on a real node, on both of zt's TLS backends: the node sees the client's SPIFFE
 * identity; 200 with 64 MiB each way and half-close in either order, 401 for a denied identity, 400 for
 * an authority that is not the pod, 503 for a closed app port.
 *
 * Istio's dialer hands back one end of a net.Pipe, which cannot half-close: closing it is the client's
 * only FIN, and a FIN from the server closes it for both directions. So the client's half-close is
 * checked at the app (EOF after exactly the bytes sent), and the server's by an app that replies only
 * after it has read everything.
 */
import assert from "node:assert/strict";
import { startDigestServer } from "../fakes/digest_server.ts";
import { goAvailable } from "../fakes/go_peer.ts";
import { spiffeOf } from "../fakes/mesh_config.ts";
import {
  completed,
  ECHO_PORT,
  idOf,
  interopMesh,
  MIB64,
  nodeFlags,
  pattern64,
  startInterop,
  type TlsBackend,
} from "../fakes/istio_interop.ts";
import { type PeerCertFiles, startIstioClient } from "../peers/istio_hbone/istio_peer.ts";

const GO = await goAvailable();
if (!GO) {
  console.warn("Istio HBONE interop tests ignored: `go` is not on PATH, so the Go peer cannot be built");
}

const M = interopMesh(77);
const REPLY_PORT = 7072;
const CLOSED_PORT = 7071;

function client(proxy: string, authority: string, certs: PeerCertFiles, more = {}) {
  return startIstioClient({ proxy, authority, certs, expectServerId: spiffeOf(M.echo), ...more });
}

const CASES: Array<{ tls: TlsBackend; unscopedFfi: boolean; label: string }> = [
  { tls: "node", unscopedFfi: false, label: "node TLS" },
  // Under permissions.txt the OpenSSL server cannot select ALPN (see the known incompatibility below).
  { tls: "openssl", unscopedFfi: true, label: "OpenSSL TLS, unscoped --allow-ffi" },
];

for (const { tls, unscopedFfi, label } of CASES) {
  Deno.test({
    name: `interop (zt on ${label}): Istio's HBONE client → zt's HBONE server`,
    ignore: !GO,
    async fn(t) {
      const f = await startInterop(M, tls, [
        () => startDigestServer(M.echo.ip, ECHO_PORT, { kind: "echo" }),
        () =>
          startDigestServer(M.echo.ip, REPLY_PORT, {
            kind: "reply",
            expect: MIB64,
            reply: pattern64(2).bytes,
          }),
      ], nodeFlags(unscopedFfi));
      const [echoApp, replyApp] = f.apps;
      const proxy = `${M.echo.ip}:15008`;
      try {
        const allowed = await f.certs("istio-client");
        const intruder = await f.certs("intruder");

        await t.step("200; 64 MiB echoed full duplex; the app sees the client's half-close", async () => {
          const authority = `${M.echo.ip}:${ECHO_PORT}`;
          const c = await client(proxy, authority, allowed, {
            send: MIB64,
            seed: 1,
            recvLimit: MIB64,
            hold: true,
          });
          const connect = await c.waitFor("connect");
          assert.equal(connect.status, 200, String(connect.error));
          assert.equal(connect.peer_identity, spiffeOf(M.echo), "Istio's client verified zt's identity");
          assert.deepEqual([connect.tls_version, connect.alpn], ["TLS 1.3", "h2"]);
          const done = await c.waitFor("done", undefined, 120_000);
          const app = await echoApp.finished(0, 60_000);
          await c.release();
          assert.equal((await c.exit()).code, 0);
          const { sha } = pattern64(1);
          assert.deepEqual([done.sent, done.sent_sha256, done.write_error], [MIB64, sha, ""]);
          assert.deepEqual([done.received, done.received_sha256, done.read_error], [MIB64, sha, ""]);
          assert.deepEqual([app.received, app.receivedSha256, app.eof, app.error], [
            MIB64,
            sha,
            true,
            undefined,
          ]);
          const rec = await f.node.waitForLog(completed("inbound", authority));
          assert.equal(rec["src.identity"], idOf("istio-client"), "zt logs the Go client's SPIFFE identity");
          assert.equal(rec["dst.identity"], spiffeOf(M.echo));
          assert.deepEqual([rec.bytes_sent, rec.bytes_recv, rec.error], [MIB64, MIB64, undefined]);
        });

        await t.step("the app half-closes first: 64 MiB each way, both ends byte-exact", async () => {
          const authority = `${M.echo.ip}:${REPLY_PORT}`;
          const c = await client(proxy, authority, allowed, { send: MIB64, seed: 3, hold: true });
          assert.equal((await c.waitFor("connect")).status, 200);
          const done = await c.waitFor("done", undefined, 120_000);
          const app = await replyApp.finished(0, 60_000);
          await c.release();
          assert.equal((await c.exit()).code, 0);
          assert.deepEqual([done.sent, done.sent_sha256], [MIB64, pattern64(3).sha]);
          assert.deepEqual(
            [done.received, done.received_sha256, done.eof, done.read_error],
            [MIB64, pattern64(2).sha, true, ""],
            "the app's FIN reached Istio's client as the end of the stream, after every byte",
          );
          assert.deepEqual([app.received, app.receivedSha256, app.eof], [MIB64, pattern64(3).sha, true]);
          assert.equal(app.sent, MIB64);
          // Go's transport may end its side with RST_STREAM(NO_ERROR) instead of END_STREAM here (the
          // response ended first); zt then logs an error although nothing was lost (see the report).
          const rec = await f.node.waitForLog(completed("inbound", authority));
          assert.deepEqual([rec.bytes_sent, rec.bytes_recv], [MIB64, MIB64]);
        });

        await t.step("401 when an AuthorizationPolicy denies the client's identity", async () => {
          const authority = `${M.echo.ip}:${ECHO_PORT}`;
          const before = echoApp.accepted;
          const c = await client(proxy, authority, intruder, { send: 10 });
          const connect = await c.waitFor("connect");
          assert.equal(connect.status, 401, String(connect.error));
          assert.equal((await c.exit()).code, 3);
          assert.equal(echoApp.accepted, before, "a denied stream never reaches the app");
          const rec = await f.node.waitForLog((l) =>
            completed("inbound", authority)(l) && l["src.identity"] === idOf("intruder")
          );
          assert.match(String(rec.error), /policy rejection: explicitly denied by: ops\/deny-intruder/);
        });

        await t.step("400 for an authority that is not this pod", async () => {
          for (const authority of [`${M.notAPod}:${ECHO_PORT}`, `${M.sleep.ip}:${ECHO_PORT}`]) {
            const c = await client(proxy, authority, allowed);
            assert.equal((await c.waitFor("connect")).status, 400, authority);
            assert.equal((await c.exit()).code, 3);
            const rec = await f.node.waitForLog(completed("inbound", authority));
            assert.match(String(rec.error), /does not match destination/);
          }
        });

        await t.step("503 when the app port is closed", async () => {
          const authority = `${M.echo.ip}:${CLOSED_PORT}`;
          const c = await client(proxy, authority, allowed);
          assert.equal((await c.waitFor("connect")).status, 503);
          assert.equal((await c.exit()).code, 3);
          const rec = await f.node.waitForLog(completed("inbound", authority));
          assert.match(String(rec.error), /Connection refused/);
        });
      } finally {
        await f.cleanup();
      }
    },
  });
}

// Known incompatibility (reported to the lead): under the shipped permissions (permissions.txt scopes
// --allow-ffi to libc/libssl paths) the OpenSSL backend cannot register its ALPN select callback, so
// its server negotiates no ALPN. zt's own client and node:http2 carry on by prior knowledge; Go's
// HTTP/2 client (and so Istio's dialer) refuses the connection. ztunnel's server always selects h2.
// When that is fixed this test fails: fold the OpenSSL case above back onto permissions.txt.
Deno.test({
  name:
    "KNOWN INCOMPATIBILITY: zt's OpenSSL HBONE server under permissions.txt selects no ALPN; Istio's client refuses it",
  ignore: !GO,
  async fn() {
    const f = await startInterop(M, "openssl", [
      () => startDigestServer(M.echo.ip, ECHO_PORT, { kind: "echo" }),
    ]);
    try {
      const c = await client(
        `${M.echo.ip}:15008`,
        `${M.echo.ip}:${ECHO_PORT}`,
        await f.certs("istio-client"),
      );
      const connect = await c.waitFor("connect");
      assert.equal((await c.exit()).code, 3);
      assert.equal(connect.status, 0);
      assert.match(String(connect.error), /unexpected ALPN protocol ""; want "h2"/);
      assert.equal(f.apps[0].accepted, 0);
    } finally {
      await f.cleanup();
    }
  },
});
