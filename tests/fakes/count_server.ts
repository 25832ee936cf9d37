/**
 * A test server that reads until the client half-closes, then answers with `replyBytes` bytes and
 * closes: the two directions carry different, known byte counts. Records what each connection
 * received, so a test knows exactly what both sides saw.
 */
export interface CountServer {
  readonly ip: string;
  readonly port: number;
  /** Bytes received per accepted connection, once that connection has finished. */
  readonly received: number[];
  close(): Promise<void>;
}

export function startCountServer(ip: string, port: number, replyBytes: number): CountServer {
  const l = Deno.listen({ hostname: ip, port });
  const received: number[] = [];
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    try {
      for await (const c of l) {
        const t = serve(c, replyBytes).then((n) => void received.push(n));
        tasks.add(t);
        t.finally(() => tasks.delete(t));
      }
    } catch { /* listener closed */ }
  })();
  return {
    ip,
    port,
    received,
    async close() {
      l.close();
      await loop;
      await Promise.allSettled([...tasks]);
    },
  };
}

async function serve(c: Deno.Conn, replyBytes: number): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  try {
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      total += n;
    }
    const reply = new Uint8Array(replyBytes).fill(0x5a);
    let off = 0;
    while (off < reply.length) off += await c.write(reply.subarray(off));
    await c.closeWrite();
  } catch { /* reset */ }
  try {
    c.close();
  } catch { /* closed */ }
  return total;
}

/** Writes `data`, half-closes, and counts what comes back until EOF. */
export async function sendAndCount(conn: Deno.Conn, data: Uint8Array): Promise<number> {
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    let total = 0;
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return total;
      total += n;
    }
  })();
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
  await conn.closeWrite();
  const got = await reading;
  conn.close();
  return got;
}
