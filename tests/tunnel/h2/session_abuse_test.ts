/**
 * The attacks of issue 14 against a real H2Session server (node:net on loopback, zt's default H2
 * options), from a raw TCP client that writes hand-built frames and, where the attack says so, never
 * reads. Each must end in a counted refusal with the server's queued output and work bounded.
 */
import assert from "node:assert/strict";
import net from "node:net";
import {
  CONNECTION_PREFACE,
  encodeHeaders,
  encodeSettings,
  encodeSettingsAck,
  ErrorCode,
  FrameType,
} from "../../../lib/tunnel/h2/frame.ts";
import { HpackEncoder } from "../../../lib/tunnel/h2/hpack.ts";
import { DEFAULT_H2_OPTIONS, type H2Options, H2Session } from "../../../lib/tunnel/h2/session.ts";
import type { H2ViolationKind } from "../../../lib/tunnel/h2/h2_error.ts";
import type { H2Stream } from "../../../lib/tunnel/h2/stream.ts";
import { frame, join, u32 } from "./h2_test_peer.ts";

const HOST = "127.41.0.1";

interface Served {
  port: number;
  violations: H2ViolationKind[];
  /** The most the server's socket ever had queued for writing. */
  maxQueued: () => number;
  sessions: H2Session[];
  close(): Promise<void>;
}

async function serve(
  onStream: (s: H2Stream, session: H2Session) => void,
  opts: Partial<H2Options> = {},
): Promise<Served> {
  const violations: H2ViolationKind[] = [];
  const sessions: H2Session[] = [];
  const sockets: net.Socket[] = [];
  let maxQueued = 0;
  const server = net.createServer((sock) => {
    sockets.push(sock);
    const write = sock.write.bind(sock) as (d: Uint8Array, cb?: () => void) => boolean;
    (sock as unknown as { write: typeof write }).write = (d, cb) => {
      const ok = write(d, cb);
      maxQueued = Math.max(maxQueued, sock.writableLength);
      return ok;
    };
    const s = new H2Session(sock, "server", { ...DEFAULT_H2_OPTIONS, ...opts });
    s.onViolation = (k) => violations.push(k);
    s.onStream = (stream) => onStream(stream, s);
    sessions.push(s);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    violations,
    maxQueued: () => maxQueued,
    sessions,
    async close() {
      for (const s of sessions) s.close();
      for (const s of sockets) s.destroy();
      await Promise.all(sessions.map((s) => s.closed));
      await new Promise((r) => server.close(r));
    },
  };
}

/** Writes `chunk` until the connection fails or a write blocks for 300 ms; never reads. */
async function flood(
  conn: Deno.TcpConn,
  chunk: Uint8Array,
  maxBytes: number,
): Promise<{ sent: number; blocked: boolean }> {
  let sent = 0;
  while (sent < maxBytes) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      conn.write(chunk).then(() => "ok", () => "closed"),
      new Promise<string>((res) => (timer = setTimeout(() => res("blocked"), 300))),
    ]);
    clearTimeout(timer);
    if (r === "closed") return { sent, blocked: false };
    if (r === "blocked") return { sent, blocked: true };
    sent += chunk.length;
  }
  return { sent, blocked: false };
}

async function attacker(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: HOST, port });
  await conn.write(join([CONNECTION_PREFACE, encodeSettings([]), encodeSettingsAck()]));
  return conn;
}

const encoder = new HpackEncoder();
const connect = (id: number) =>
  encodeHeaders(id, encoder.encode([[":method", "CONNECT"], [":authority", "10.9.9.9:80"]]), false, 16384);

Deno.test("h2 abuse: HEADERS + endless CONTINUATION is cut off after a few frames (CVE-2024-27316)", async () => {
  const srv = await serve(() => {});
  const conn = await attacker(srv.port);
  await conn.write(frame(FrameType.HEADERS, 0, 1, [0x82]));
  const cont = join(new Array(64).fill(frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(16000))));
  const r = await flood(conn, cont, 200 * 1024 * 1024);
  assert.equal(srv.violations.length, 1);
  assert.ok(["continuation_flood", "header_block_too_large"].includes(srv.violations[0]), srv.violations[0]);
  assert.ok(r.sent < 64 * 1024 * 1024, `refused long before 200 MiB (${r.sent} bytes went out)`);
  conn.close();
  await srv.close();
});

Deno.test("h2 abuse: a PING flood from a peer that never reads ends in GOAWAY, with little queued", async () => {
  const srv = await serve(() => {});
  const conn = await attacker(srv.port);
  const pings = join(
    Array.from({ length: 1000 }, (_, i) => frame(FrameType.PING, 0, 0, [0, 0, 0, 0, ...u32(i)])),
  );
  await flood(conn, pings, 2_000_000 * 17);
  assert.equal(srv.violations.length, 1);
  assert.ok(["glitch_flood", "ack_flood"].includes(srv.violations[0]), srv.violations[0]);
  assert.ok(srv.maxQueued() < 64 * 1024, `server queued at most ${srv.maxQueued()} bytes`);
  conn.close();
  await srv.close();
});

Deno.test("h2 abuse: a SETTINGS flood from a peer that never reads ends in GOAWAY, with little queued", async () => {
  const srv = await serve(() => {});
  const conn = await attacker(srv.port);
  await flood(conn, join(new Array(1000).fill(encodeSettings([]))), 2_000_000 * 9);
  assert.deepEqual(srv.violations, ["glitch_flood"]);
  assert.ok(srv.maxQueued() < 64 * 1024, `server queued at most ${srv.maxQueued()} bytes`);
  conn.close();
  await srv.close();
});

Deno.test("h2 abuse: 50,000 × CONNECT + RST_STREAM: upstream work in flight stays ≤ 20, then GOAWAY (CVE-2023-44487)", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  let started = 0;
  const srv = await serve((stream, session) => {
    // What InboundProxy does: start connecting upstream, answer once connected.
    started++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      session.respond(stream, [[":status", "200"]], false);
    }, 50);
  }, { glitchBurst: 1e9 });
  const conn = await attacker(srv.port);
  // One CONNECT + RST per write, so each stream is handed over before its reset arrives.
  let sent = 0;
  for (let i = 0; i < 50_000 && srv.violations.length === 0; i++) {
    const id = 1 + 2 * i;
    try {
      await conn.write(connect(id));
      await new Promise((r) => setTimeout(r, 0));
      await conn.write(frame(FrameType.RST_STREAM, 0, id, u32(ErrorCode.CANCEL)));
    } catch {
      break;
    }
    sent++;
  }
  assert.deepEqual(srv.violations, ["rapid_reset"]);
  assert.ok(maxInFlight <= 21, `at most ${maxInFlight} upstream attempts at once`);
  assert.ok(started < 100, `${started} streams ever reached the app (of ${sent} sent)`);
  conn.close();
  await new Promise((r) => setTimeout(r, 60)); // let the pending "connects" finish
  await srv.close();
});

Deno.test("h2 abuse: requests from a peer that never reads: reading pauses, the server's queue stays bounded", async () => {
  // Each answer carries 4 KiB of headers, so the kernel's socket buffers fill after a few thousand.
  const big = "x".repeat(4096);
  const srv = await serve((stream, session) => {
    session.respond(stream, [[":status", "400"], ["x-pad", big]], true);
  }, { glitchBurst: 1e9, maxLocalErrorResets: 1e9 });
  const conn = await attacker(srv.port);
  const block = encoder.encode([[":method", "GET"], [":scheme", "http"], [":path", "/"], [
    ":authority",
    "a",
  ]]);
  let id = 1;
  const batch = () => {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 500; i++, id += 2) frames.push(encodeHeaders(id, block, true, 16384));
    return join(frames);
  };
  let r = { sent: 0, blocked: false };
  while (r.sent < 64 * 1024 * 1024 && !r.blocked && srv.violations.length === 0) {
    const b = await flood(conn, batch(), 1);
    r = { sent: r.sent + b.sent, blocked: b.blocked };
  }
  assert.ok(r.blocked, `the attacker's writes block (after ${r.sent} bytes): the server stopped reading`);
  // The connection is held, paused: requests it has not answered yet wait (no more than it allows).
  assert.ok(!srv.sessions[0].isClosed);
  assert.ok(srv.sessions[0].activeStreams <= DEFAULT_H2_OPTIONS.maxConcurrentStreams);
  assert.deepEqual(srv.violations, []);
  assert.ok(srv.maxQueued() < 2 * 1024 * 1024, `server queued at most ${srv.maxQueued()} bytes`);
  conn.close();
  await srv.close();
});
