/**
 * The non-reading-peer attack through zt's real HBONE server (node:tls, mTLS with a mesh certificate):
 * a client that floods requests and never reads is stopped — zt pauses reading (node:tls pause) so the
 * attacker's own writes block, or refuses the connection with a counted violation — long before it
 * has sent much, and the server keeps serving other clients.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { hostFactory } from "../../fakes/socket_kit.ts";
import { HboneServer } from "../../../lib/tunnel/hbone_server.ts";
import { HbonePool } from "../../../lib/tunnel/hbone_pool.ts";
import { DEFAULT_H2_OPTIONS } from "../../../lib/tunnel/h2/session.ts";
import { tlsOptions } from "../../../lib/tunnel/tls.ts";
import {
  CONNECTION_PREFACE,
  encodeHeaders,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  ErrorCode,
} from "../../../lib/tunnel/h2/frame.ts";
import { HpackEncoder } from "../../../lib/tunnel/h2/hpack.ts";
import { silentLogger } from "../../../lib/log/logger.ts";
import { join } from "./h2_test_peer.ts";

const HOST = "127.41.0.4";

Deno.test("hbone abuse: a mesh peer flooding requests without reading is stopped; others are still served", async () => {
  const pki = await makeTestPki();
  const rejected: string[] = [];
  const pad = "x".repeat(4096);
  const server = new HboneServer({
    listener: hostFactory().listenTcp({ ip: HOST, port: 0 }),
    cert: await pki.issue("demo", "server"),
    h2: DEFAULT_H2_OPTIONS,
    log: silentLogger(),
    // 4 KiB answers: without a pause the kernel's socket buffers would fill after a few thousand.
    onTunnel: (t) => {
      const authority = t.headers.find(([k]) => k === ":authority")?.[1];
      if (authority === "10.0.0.1:80") return t.respond(200);
      t.respond(400, [["x-pad", pad]]);
    },
    onRejected: (kind, reason) => rejected.push(`${kind}: ${reason}`),
  });
  await server.listen();
  const pool = new HbonePool({
    h2: DEFAULT_H2_OPTIONS,
    maxStreamsPerConnection: 100,
    idleTimeoutMs: 60_000,
    log: silentLogger(),
  });
  const cert = await pki.issue("demo", "client");
  const sock = tls.connect({
    ...tlsOptions(cert),
    host: HOST,
    port: server.address.port,
    checkServerIdentity: () => undefined,
  });
  try {
    await new Promise<void>((r, j) => sock.once("secureConnect", r).once("error", j));
    sock.pause(); // the attacker never reads
    const block = new HpackEncoder().encode([[":method", "GET"], [":scheme", "http"], [":path", "/"], [
      ":authority",
      "a",
    ]]);
    sock.write(join([CONNECTION_PREFACE, encodeSettings([]), encodeSettingsAck()]));
    let id = 1;
    let sent = 0;
    let blocked = false;
    while (sent < 64 * 1024 * 1024 && rejected.length === 0 && !sock.destroyed) {
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 500; i++, id += 2) frames.push(encodeHeaders(id, block, true, 16384));
      const chunk = join(frames);
      sent += chunk.length;
      if (!sock.write(chunk)) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => sock.once("drain", () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
        ]);
        if (!drained) {
          blocked = true;
          break;
        }
      }
    }
    assert.ok(blocked || rejected.length === 1, `stopped after ${sent} bytes (${rejected.join("; ")})`);
    assert.ok(sent < 64 * 1024 * 1024);
    // Another client is served meanwhile.
    const res = await pool.connect({
      cert,
      expectedIdentities: ["spiffe://cluster.local/ns/demo/sa/server"],
      ip: HOST,
      port: server.address.port,
      factory: hostFactory(),
    }, "10.0.0.1:80");
    assert.equal(res.status, 200);
  } finally {
    sock.destroy();
    pool.close();
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});

Deno.test("hbone abuse: CONNECT + RST_STREAM again and again (rapid reset) is dropped and counted as h2_rapid_reset", async () => {
  const pki = await makeTestPki();
  const rejected: string[] = [];
  const server = new HboneServer({
    listener: hostFactory().listenTcp({ ip: HOST, port: 0 }),
    cert: await pki.issue("demo", "server"),
    h2: DEFAULT_H2_OPTIONS,
    log: silentLogger(),
    onTunnel: () => {}, // like an upstream connect still under way: never answered in time
    onRejected: (kind) => rejected.push(kind),
  });
  await server.listen();
  const cert = await pki.issue("demo", "client");
  const sock = tls.connect({
    ...tlsOptions(cert),
    host: HOST,
    port: server.address.port,
    checkServerIdentity: () => undefined,
  });
  const closed = new Promise<void>((r) => sock.once("close", () => r()));
  sock.on("error", () => {});
  sock.on("data", () => {});
  try {
    await new Promise<void>((r, j) => sock.once("secureConnect", r).once("error", j));
    const enc = new HpackEncoder();
    sock.write(join([CONNECTION_PREFACE, encodeSettings([]), encodeSettingsAck()]));
    for (let i = 0, id = 1; i < 5000 && !sock.destroyed && rejected.length === 0; i++, id += 2) {
      const block = enc.encode([[":method", "CONNECT"], [":authority", "10.0.0.1:80"]]);
      sock.write(encodeHeaders(id, block, false, 16384));
      await new Promise((r) => setTimeout(r, 0)); // handed over before its reset arrives
      sock.write(encodeRstStream(id, ErrorCode.CANCEL));
    }
    await closed;
    assert.deepEqual(rejected, ["h2_rapid_reset"]);
  } finally {
    sock.destroy();
    server.close();
    await server.closed();
    await pki.cleanup();
  }
});
