/**
 * zt's HBONE client (a pod's SOCKS5 entry on a real node) → Istio's HBONE server (hbone.NewServer over
 * Go's crypto/tls: tests/peers/istio_hbone) serving a pod on a node zt does not run, on both of zt's
 * TLS backends with the shipped permissions: 64 MiB each way byte-exact at every hop, Istio's side
 * sees zt's SPIFFE identity, and zt's `baggage`, `forwarded` and `traceparent` parse there with the
 * values zt meant. The peer's parsers are checked first to refuse malformed values, so those
 * assertions mean something.
 */
import assert from "node:assert/strict";
import { startDigestServer } from "../fakes/digest_server.ts";
import { goAvailable } from "../fakes/go_peer.ts";
import { spiffeOf, TEST_NAMESPACE } from "../fakes/mesh_config.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import {
  completed,
  ECHO_PORT,
  interopMesh,
  MIB64,
  pattern64,
  SERVICE_PORT,
  startInterop,
} from "../fakes/istio_interop.ts";
import {
  istioPattern,
  parseHeadersWithPeer,
  sha256Hex,
  startIstioServer,
} from "../peers/istio_hbone/istio_peer.ts";

const GO = await goAvailable();
if (!GO) {
  console.warn("Istio HBONE interop tests ignored: `go` is not on PATH, so the Go peer cannot be built");
}

const M = interopMesh(79);
type Parsed = Record<string, unknown>;

Deno.test({
  name: "istio peer: its header parsers accept what ztunnel sends and refuse malformed values",
  ignore: !GO,
  async fn() {
    const good = await parseHeadersWithPeer({
      baggage:
        "k8s.cluster.name=Kubernetes,k8s.namespace.name=ops,k8s.deployment.name=sleep,service.name=sleep",
      forwarded: `for="127.0.0.1:4321";host=echo.ops.svc.cluster.local`,
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-0af7651916cd43dd-00",
    });
    assert.deepEqual([good.baggage.valid, good.baggage.namespace, good.baggage.workload], [
      true,
      "ops",
      "sleep",
    ]);
    assert.deepEqual([good.forwarded.valid, good.forwarded.for_quoted], [true, true]);
    assert.deepEqual([good.forwarded.for_ip, good.forwarded.for_port], ["127.0.0.1", 4321]);
    assert.equal(good.forwarded.host, "echo.ops.svc.cluster.local");
    assert.deepEqual([good.traceparent.valid, good.traceparent.trace_id], [
      true,
      "0af7651916cd43dd8448eb211c80319c",
    ]);
    const bad = [
      { baggage: "k8s.namespace.name=ops,bad key=1" },
      { baggage: "k8s.namespace.name=o ps" }, // a space is not a baggage-octet
      { baggage: "k8s.namespace.name=ops," }, // an empty list-member
      { forwarded: "for=127.0.0.1:4321" }, // a port needs quoting
      { forwarded: `for="2001:db8::1"` }, // IPv6 needs brackets
      { forwarded: `for="127.0.0.1:4321";for="127.0.0.2"` }, // one for= per element
      { forwarded: `for="127.0.0.1` },
      { traceparent: "00-0AF7651916CD43DD8448EB211C80319C-0af7651916cd43dd-00" }, // uppercase
      { traceparent: "00-00000000000000000000000000000000-0af7651916cd43dd-00" }, // zero trace id
      { traceparent: "00-0af7651916cd43dd8448eb211c80319c-0af7651916cd43dd-0" },
    ];
    for (const h of bad) {
      const [name] = Object.keys(h);
      const got = await parseHeadersWithPeer(h);
      assert.equal(got[name].valid, false, `${JSON.stringify(h)} must be refused`);
      assert.equal(typeof got[name].error, "string");
    }
  },
});

for (const tls of ["node", "openssl"] as const) {
  Deno.test({
    name: `interop (zt on ${tls} TLS): zt's HBONE client → Istio's HBONE server`,
    ignore: !GO,
    async fn(t) {
      const f = await startInterop(M, tls, [
        () => startDigestServer(M.istioPod.ip, ECHO_PORT, { kind: "echo" }),
      ]);
      const [app] = f.apps;
      const server = await startIstioServer(`${M.istioPod.ip}:15008`, await f.certs("istio-echo"));
      const socks = { ip: M.sleep.ip, port: 15080 };
      const authority = `${M.istioPod.ip}:${ECHO_PORT}`;
      try {
        await t.step("64 MiB each way via SOCKS5 to the pod, byte-exact at every hop", async () => {
          const { reply, conn } = await socks5Connect(socks, M.istioPod.ip, ECHO_PORT);
          assert.equal(reply, 0);
          const local = conn.localAddr as Deno.NetAddr;
          const { bytes, sha } = pattern64(4);
          const got = await roundTrip(conn, bytes);
          assert.deepEqual(
            [got.length, sha256Hex(got)],
            [MIB64, sha],
            "the SOCKS5 client got its bytes back",
          );
          const closed = await server.waitFor("closed", (e) => e.authority === authority);
          assert.deepEqual(
            [closed.received, closed.received_sha256],
            [MIB64, sha],
            "Istio's server got them all",
          );
          assert.deepEqual([closed.sent, closed.sent_sha256], [MIB64, sha]);
          const rec = await app.finished(0);
          assert.deepEqual([rec.received, rec.receivedSha256, rec.eof], [MIB64, sha, true]);
          const out = await f.node.waitForLog(completed("outbound", authority));
          assert.deepEqual([out.bytes_sent, out.bytes_recv, out.error], [MIB64, MIB64, undefined]);
          assert.equal(out["dst.identity"], spiffeOf(M.istioPod));

          const seen = await server.waitFor("connect", (e) => e.authority === authority);
          assert.equal(seen.method, "CONNECT");
          assert.equal(seen.peer_identity, spiffeOf(M.sleep), "Istio's server verified zt's client identity");
          assert.deepEqual([seen.tls_version, seen.alpn, seen.proto], ["TLS 1.3", "h2", "HTTP/2.0"]);
          const baggage = seen.baggage as Parsed;
          assert.equal(baggage.valid, true, String(baggage.error));
          assert.deepEqual(
            [baggage.cluster, baggage.namespace, baggage.workload, baggage.workload_kind, baggage.service],
            ["Kubernetes", TEST_NAMESPACE, "sleep", "deployment", "sleep"],
          );
          const fwd = seen.forwarded as Parsed;
          assert.equal(fwd.valid, true, String(fwd.error));
          assert.equal(fwd.for_quoted, true);
          assert.deepEqual(
            [fwd.for_ip, fwd.for_port],
            [local.hostname, local.port],
            "for= is the app's client",
          );
          assert.equal(fwd.host, undefined, "no host= when the target is a pod, not a service");
          const tp = seen.traceparent as Parsed;
          assert.equal(tp.valid, true, String(tp.error));
          assert.equal(tp.trace_id, out.id, "the trace id is the id zt logged for the connection");
        });

        await t.step("through the service VIP: forwarded carries host=<service hostname>", async () => {
          const { reply, conn } = await socks5Connect(socks, M.vip, SERVICE_PORT);
          assert.equal(reply, 0);
          const data = istioPattern(100_000, 5);
          assert.equal(sha256Hex(await roundTrip(conn, data)), sha256Hex(data));
          const seen = await server.waitFor("connect", (e) => (e.forwarded as Parsed).host !== undefined);
          assert.equal(seen.authority, authority, "the authority is the endpoint, not the VIP");
          const fwd = seen.forwarded as Parsed;
          assert.deepEqual([fwd.valid, fwd.host], [true, M.istioHost], String(fwd.error));
        });
      } finally {
        await server.stop();
        await f.cleanup();
      }
    },
  });
}
