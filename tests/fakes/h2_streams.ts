/** Test helpers over zt's HTTP/2 streams: echo one back, or read one to its end. */
import type { H2Stream } from "../../lib/tunnel/h2/stream.ts";

/** Echoes every byte back, half-closing after the peer does. */
export async function echoStream(s: H2Stream): Promise<void> {
  for (;;) {
    const chunk = await s.read();
    if (chunk === null) break;
    await s.writeBytes(chunk);
    s.release(chunk.length);
  }
  s.end();
}

/** Everything the stream carries until END_STREAM, in one buffer. */
export async function readAll(s: H2Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const c = await s.read();
    if (c === null) break;
    parts.push(c.slice());
    s.release(c.length);
  }
  return concat(parts);
}

/** The parts, one after another, in one new buffer. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
