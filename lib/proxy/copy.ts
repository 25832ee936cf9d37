/**
 * Byte copying between sockets and HBONE streams: raw `Deno.Conn` read/write loops (the fastest
 * socket API here), buffers that start small (idle connections stay cheap) and grow while a
 * transfer keeps filling them, half-close carried through in both directions, no byte lost.
 */
import { FRAME_HEADER_SIZE } from "../tunnel/h2/frame.ts";
import type { H2Stream } from "../tunnel/h2/stream.ts";

/** Small: an idle connection holds one pending read buffer; reads that fill it grow it ×4. */
export const INITIAL_BUFFER = 256;
export const MAX_BUFFER = 256 * 1024;

/** Live byte counts of a socket ⇄ stream relay, by direction. */
export interface RelayCounts {
  /** Bytes read from the socket and sent into the stream. */
  fromConn: number;
  /** Bytes read from the stream and written to the socket. */
  fromStream: number;
}

/**
 * RelayCounts that also read as client-side `sent`/`recv` (accessors on the prototype: no per-connection
 * closures). `connIsClient`: the socket is the client (outbound) or the upstream app (inbound).
 */
export class RelayCounter implements RelayCounts {
  fromConn = 0;
  fromStream = 0;
  constructor(readonly connIsClient: boolean) {}
  get sent(): number {
    return this.connIsClient ? this.fromConn : this.fromStream;
  }
  get recv(): number {
    return this.connIsClient ? this.fromStream : this.fromConn;
  }
}

/** Live byte counts of a socket ⇄ socket relay, from the client's point of view. */
export interface ByteCounts {
  /** Bytes from the client towards the upstream. */
  sent: number;
  /** Bytes from the upstream back to the client. */
  recv: number;
}

/** Writes the whole buffer (Deno.Conn.write may write less than asked). */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(off === 0 ? data : data.subarray(off));
}

/** The next read size: grow by 4× while reads fill the buffer, up to MAX_BUFFER. */
function nextSize(size: number, n: number): number {
  return n === size && size < MAX_BUFFER ? Math.min(size * 4, MAX_BUFFER) : size;
}

/** TCP → HBONE stream until EOF (then END_STREAM). `prefix` is data already read from the socket. */
export async function tcpToStream(
  conn: Deno.Conn,
  stream: H2Stream,
  counts: RelayCounts,
  prefix?: Uint8Array,
): Promise<void> {
  if (prefix && prefix.length) {
    await stream.writeBytes(prefix);
    counts.fromConn += prefix.length;
  }
  let size = INITIAL_BUFFER;
  for (;;) {
    // A fresh buffer per read: TLS may still hold the previous one until it is flushed.
    const buf = new Uint8Array(FRAME_HEADER_SIZE + size);
    const n = await conn.read(buf.subarray(FRAME_HEADER_SIZE));
    if (n === null) break;
    counts.fromConn += n;
    await stream.write(buf, n);
    size = nextSize(size, n);
  }
  stream.end();
}

/** HBONE stream → TCP until END_STREAM (then FIN). */
export async function streamToTcp(stream: H2Stream, conn: Deno.Conn, counts: RelayCounts): Promise<void> {
  for (;;) {
    const chunk = await stream.read();
    if (chunk === null) break;
    await writeAll(conn, chunk);
    counts.fromStream += chunk.length;
    stream.release(chunk.length);
  }
  await conn.closeWrite();
}

/** TCP → TCP until EOF (then FIN); one buffer, reused because each write completes before the next read. */
export async function tcpToTcp(
  from: Deno.Conn,
  to: Deno.Conn,
  onBytes: (n: number) => void,
  prefix?: Uint8Array,
): Promise<void> {
  if (prefix && prefix.length) {
    await writeAll(to, prefix);
    onBytes(prefix.length);
  }
  let size = INITIAL_BUFFER;
  let buf = new Uint8Array(size);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) break;
    await writeAll(to, n === buf.length ? buf : buf.subarray(0, n));
    onBytes(n);
    const next = nextSize(size, n);
    if (next !== size) {
      size = next;
      buf = new Uint8Array(size);
    }
  }
  await to.closeWrite();
}

/** Closes a conn, ignoring "already closed". */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Relays client ⇄ HBONE stream in both directions. Resolves when both halves are done; on an error
 * in either direction both sides are torn down (socket closed, stream reset) and the error rethrown.
 */
export async function relayStream(
  conn: Deno.Conn,
  stream: H2Stream,
  counts: RelayCounts,
  prefix?: Uint8Array,
): Promise<void> {
  let failed: unknown;
  const abort = (e: unknown) => {
    if (failed === undefined) failed = e;
    stream.reset();
    closeQuietly(conn);
  };
  await Promise.all([
    tcpToStream(conn, stream, counts, prefix).catch(abort),
    streamToTcp(stream, conn, counts).catch(abort),
  ]);
  closeQuietly(conn);
  if (failed !== undefined) throw failed;
}

/** Relays TCP ⇄ TCP; `a` is the client side. */
export async function relayTcp(
  a: Deno.Conn,
  b: Deno.Conn,
  counts: ByteCounts,
  prefix?: Uint8Array,
): Promise<void> {
  let failed: unknown;
  const abort = (e: unknown) => {
    if (failed === undefined) failed = e;
    closeQuietly(a);
    closeQuietly(b);
  };
  await Promise.all([
    tcpToTcp(a, b, (n) => (counts.sent += n), prefix).catch(abort),
    tcpToTcp(b, a, (n) => (counts.recv += n)).catch(abort),
  ]);
  closeQuietly(a);
  closeQuietly(b);
  if (failed !== undefined) throw failed;
}
