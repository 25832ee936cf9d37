/**
 * A long-lived transfer through an echo server: writes `chunks` chunks of `chunkSize` bytes, one
 * every `intervalMs`, reads the echo concurrently, then half-closes and reads to EOF. Reports how far
 * it got, whether the echo came back intact and when it ended, so drain tests can tell a transfer
 * that finished from one that was cut.
 */
import { pattern } from "./mesh_config.ts";

export interface TransferResult {
  readonly sent: number;
  readonly received: number;
  /** Everything was sent and the identical bytes came back, ended by a clean EOF. */
  readonly complete: boolean;
  readonly error?: string;
  /** How the read side ended: a clean EOF, a reset (ECONNRESET), or another error. */
  readonly readEnd: "eof" | "reset" | "error";
  /** performance.now() when the read side ended (EOF or reset). */
  readonly endedAt: number;
}

export async function slowTransfer(
  conn: Deno.Conn,
  opts: { chunks: number; chunkSize: number; intervalMs: number; seed?: number },
): Promise<TransferResult> {
  const total = opts.chunks * opts.chunkSize;
  const data = pattern(total, opts.seed ?? 1);
  const back = new Uint8Array(total);
  let received = 0;
  let sent = 0;
  let error: string | undefined;
  let overflow = false;
  let endedAt = 0;
  let readEnd: TransferResult["readEnd"] = "eof";
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        if (received + n > total) overflow = true;
        else back.set(buf.subarray(0, n), received);
        received += n;
      }
    } catch (e) {
      readEnd = e instanceof Deno.errors.ConnectionReset ? "reset" : "error";
      error ??= `read: ${(e as Error).message}`;
    } finally {
      endedAt = performance.now();
    }
  })();
  try {
    for (let i = 0; i < opts.chunks && !endedAt; i++) {
      const chunk = data.subarray(i * opts.chunkSize, (i + 1) * opts.chunkSize);
      let off = 0;
      while (off < chunk.length) off += await conn.write(chunk.subarray(off));
      sent += chunk.length;
      await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
    await conn.closeWrite();
  } catch (e) {
    error ??= `write: ${(e as Error).message}`;
  }
  await reading;
  try {
    conn.close();
  } catch { /* closed */ }
  const complete = !error && !overflow && sent === total && received === total &&
    back.every((b, i) => b === data[i]);
  return { sent, received, complete, error, readEnd, endedAt };
}
