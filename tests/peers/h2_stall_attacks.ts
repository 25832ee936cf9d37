/**
 * Slow peers of issue 14 (see h2_attacks.ts): TCP connections that never start TLS, an mTLS peer that
 * never sends the preface, one that never answers the node's PINGs; and a well-behaved HBONE client to
 * check the node still serves.
 */
import { type AttackContext, type AttackResult, finish, open, result } from "./h2_attacks.ts";
import { connect, data, join } from "./h2_frames.ts";

/** An mTLS peer that never sends the connection preface. */
export async function prefaceStall(ctx: AttackContext, waitMs = 20_000): Promise<AttackResult> {
  const t0 = performance.now();
  const a = await open(ctx, false);
  return result("no preface after mTLS", t0, [await finish(a, t0, waitMs)], 0, "done");
}

/**
 * Two peers past the preface that never answer the node's keepalive PINGs: one reads them, the other
 * stops reading at once (what the node wrote waits in its socket buffer until it is read at the end).
 */
export async function keepaliveStall(ctx: AttackContext, waitMs = 40_000): Promise<AttackResult> {
  const t0 = performance.now();
  const [a, b] = await Promise.all([open(ctx), open(ctx)]);
  b.stopReading();
  const reading = await finish(a, t0, waitMs);
  const silent = await finish(b, t0, 5000);
  return result("PINGs never answered", t0, [reading, silent], a.bytesOut + b.bytesOut, "done");
}

/**
 * `n` TCP connections to the HBONE port that never start the TLS handshake (no certificate needed),
 * opened 200 at a time; each waits for the node to close it, up to `waitMs` after its connect.
 */
export async function handshakeStall(
  host: string,
  port: number,
  n: number,
  waitMs = 20_000,
): Promise<AttackResult> {
  const t0 = performance.now();
  const closeMs: number[] = [];
  let refused = 0;
  let open = 0;
  const hold = async (): Promise<void> => {
    let c: Deno.TcpConn;
    try {
      c = await Deno.connect({ hostname: host, port });
    } catch {
      refused++;
      return;
    }
    open++;
    const at = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      c.read(new Uint8Array(16)).then(() => true, () => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), waitMs))),
    ]);
    clearTimeout(timer);
    if (ended) closeMs.push(performance.now() - at);
    try {
      c.close();
    } catch { /* closed */ }
  };
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < n; i += 200) {
    for (let j = i; j < Math.min(n, i + 200); j++) tasks.push(hold());
    await new Promise((r) => setTimeout(r, 0));
  }
  await Promise.all(tasks);
  closeMs.sort((x, y) => x - y);
  return result(`${n} TCP connections, no TLS handshake`, t0, [], 0, "done", {
    opened: open,
    refused,
    closedByNode: closeMs.length,
    minCloseMs: Math.round(closeMs[0] ?? 0),
    maxCloseMs: Math.round(closeMs.at(-1) ?? 0),
  });
}

/** A well-behaved HBONE client: CONNECT to the echo app, bytes there and back, END_STREAM. */
export async function healthyHbone(ctx: AttackContext): Promise<{ status: number; echoed: string }> {
  const a = await open(ctx);
  try {
    await a.write(connect(1, ctx.echo));
    await a.until(() => a.responses.has(1), 5000);
    const msg = "still serving";
    await a.write(data(1, new TextEncoder().encode(msg), true));
    const got = () => new TextDecoder().decode(join(a.streamData.get(1) ?? []));
    await a.until(() => got().length >= msg.length, 5000);
    return { status: a.responses.get(1) ?? 0, echoed: got() };
  } finally {
    a.destroy();
  }
}
