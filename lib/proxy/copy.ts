/**
 * Byte copying between sockets: raw `Deno.Conn` read/write loops (the fastest socket API here),
 * buffers that start small (idle connections stay cheap) and grow while a transfer keeps filling
 * them, half-close carried through in both directions, no byte lost. Socket ⇄ HBONE stream relays
 * are in stream_relay.ts.
 */

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
export function nextBufferSize(size: number, n: number): number {
  return n === size && size < MAX_BUFFER ? Math.min(size * 4, MAX_BUFFER) : size;
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
    const next = nextBufferSize(size, n);
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
