/**
 * Test servers on loopback: an echo server (bytes back, half-close honoured) and a tiny HTTP server
 * that names itself (the demo's "httpbin"). Real sockets, in the test process.
 */
export interface RunningServer {
  readonly ip: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** Echoes every byte; when the client half-closes, finishes echoing and half-closes back. */
export function startEchoServer(ip = "127.0.0.1", port = 0): RunningServer {
  const l = Deno.listen({ hostname: ip, port });
  let accepted = 0;
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    try {
      for await (const c of l) {
        accepted++;
        conns.add(c);
        const t = echo(c).finally(() => conns.delete(c));
        tasks.add(t);
        t.finally(() => tasks.delete(t));
      }
    } catch { /* closed */ }
  })();
  return {
    ip,
    port: (l.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    async close() {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
      await Promise.allSettled([...tasks]);
    },
  };
}

async function echo(c: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await c.write(buf.subarray(off, n));
    }
    await c.closeWrite();
    // wait for the peer to close
    while ((await c.read(buf)) !== null) { /* drain */ }
  } catch {
    /* reset */
  } finally {
    try {
      c.close();
    } catch { /* closed */ }
  }
}

/** An HTTP/1.1 server answering every request with `name` (which replica served) and the client's address. */
export function startNamedHttpServer(name: string, ip: string, port: number): { close(): Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: ip, port, signal: ac.signal, onListen: () => {} },
    (req, info) =>
      new Response(
        `<title>httpbin.org</title>\nserved by ${name}\n${req.method} ${new URL(req.url).pathname}\nclient ${
          (info.remoteAddr as Deno.NetAddr).hostname
        }\n`,
        {
          headers: { "content-type": "text/html", "x-served-by": name },
        },
      ),
  );
  return {
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}
