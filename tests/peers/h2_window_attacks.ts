/**
 * Flow-control attacks of issue 14 (see h2_attacks.ts): DATA past zt's stream and connection windows
 * towards an app that never reads, and windows pushed past 2^31-1 by WINDOW_UPDATE or SETTINGS.
 */
import {
  type AttackContext,
  type AttackResult,
  type ConnResult,
  finish,
  MiB,
  open,
  result,
} from "./h2_attacks.ts";
import type { FloodEnd } from "./h2_attacker.ts";
import {
  connect,
  data,
  join,
  MAX_WINDOW,
  repeat,
  settings,
  SETTINGS_INITIAL_WINDOW_SIZE,
  windowUpdate,
} from "./h2_frames.ts";

/** A CONNECT to the app that never reads, then DATA on it ignoring zt's stream window (up to 513 MiB). */
export async function dataPastStreamWindow(ctx: AttackContext): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx);
  await a.write(connect(1, ctx.sink));
  await a.until(() => a.responses.has(1), 5000);
  const status = a.responses.get(1) ?? 0;
  const batch = repeat(data(1, new Uint8Array(16384)), 64);
  const r = await a.flood(() => batch, { maxBytes: 513 * MiB, stop: () => a.resetOf(1) !== undefined });
  await a.until(() => a.resetOf(1) !== undefined, 2000);
  const stillOpen = !a.goaway && !a.isClosed ? 1 : 0;
  a.destroy(); // the connection itself broke no rule: the test ends it
  await a.closed(1000);
  const conn: ConnResult = {
    port: a.localPort,
    resets: [...a.resets],
    closed: false,
    stopMs: a.firstResetAt === undefined ? undefined : Math.round(a.firstResetAt - t0),
    pingsReceived: 0,
  };
  return result("DATA past the stream window", t0, [conn], r.sent, r.end, { status, stillOpen });
}

/**
 * 12 CONNECTs to the app that never reads, each sent DATA as far as its stream window allows (zt's
 * SETTINGS_INITIAL_WINDOW_SIZE plus its stream WINDOW_UPDATEs) with the connection window ignored:
 * once the app's socket buffers are full, 12 stream windows of 4 MiB are more than zt's 16 MiB
 * connection window, which only the app's reading would refill. Up to 1 GiB.
 */
export async function dataPastConnectionWindow(ctx: AttackContext): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx);
  const ids = Array.from({ length: 12 }, (_, i) => 1 + 2 * i);
  await a.write(join(ids.map((id) => connect(id, ctx.sink))));
  await a.until(() => ids.every((id) => a.responses.has(id)), 5000);
  const answered = ids.filter((id) => a.responses.get(id) === 200).length;
  const chunk = new Uint8Array(16384);
  const sentOn = new Map(ids.map((id) => [id, 0]));
  const room = (id: number) => a.serverInitialWindow + (a.windowUpdates.get(id) ?? 0) - sentOn.get(id)!;
  const open_ = (id: number) => a.resetOf(id) === undefined && room(id) >= chunk.length;
  let sent = 0;
  let end: FloodEnd = "limit";
  while (sent < 1024 * MiB) {
    if (a.goaway || a.isClosed) {
      end = "stopped";
      break;
    }
    const ready = ids.filter(open_);
    if (ready.length === 0) {
      // Every stream window is spent: zt gives window back only as the app reads (it never does).
      if (!await a.until(() => ids.some(open_) || a.goaway !== undefined, 1000)) {
        end = "blocked";
        break;
      }
      continue;
    }
    for (const id of ready) sentOn.set(id, sentOn.get(id)! + chunk.length);
    const w = await a.write(join(ready.map((id) => data(id, chunk))));
    sent += ready.length * chunk.length;
    if (w !== "ok") {
      end = w;
      break;
    }
  }
  return result("DATA past the connection window", t0, [await finish(a, t0)], sent, end, { answered });
}

/** WINDOW_UPDATE past 2^31-1: on a stream (a stream error), then on the connection. */
export async function windowOverflow(ctx: AttackContext): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx);
  await a.write(connect(1, ctx.echo));
  await a.until(() => a.responses.has(1), 5000);
  await a.write(windowUpdate(1, MAX_WINDOW));
  await a.until(() => a.resetOf(1) !== undefined, 2000);
  await a.write(windowUpdate(0, MAX_WINDOW));
  return result("WINDOW_UPDATE past 2^31-1", t0, [await finish(a, t0)], a.bytesOut, "done");
}

/**
 * SETTINGS_INITIAL_WINDOW_SIZE overflow: a value over 2^31-1 on one connection; on another, a value
 * that pushes an open stream's window (raised to 2^31-1 by WINDOW_UPDATE) past it.
 */
export async function settingsWindowOverflow(ctx: AttackContext): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx);
  await a.write(settings([[SETTINGS_INITIAL_WINDOW_SIZE, 2 ** 31]]));
  const first = await finish(a, t0);
  const b = await open(ctx);
  await b.write(connect(1, ctx.echo));
  await b.until(() => b.responses.has(1), 5000);
  await b.write(windowUpdate(1, MAX_WINDOW - 65535));
  await b.write(settings([[SETTINGS_INITIAL_WINDOW_SIZE, 65536]]));
  const second = await finish(b, t0);
  return result(
    "SETTINGS_INITIAL_WINDOW_SIZE overflow",
    t0,
    [first, second],
    a.bytesOut + b.bytesOut,
    "done",
  );
}
