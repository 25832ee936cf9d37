/**
 * A test app that hashes what it receives, for byte-exact checks across a tunnel without keeping the
 * bytes: per connection it records the byte count and SHA-256 of each direction and whether the
 * client's half-close (EOF) arrived. Two behaviours:
 *   echo:  every byte back; after the client's EOF, half-close back.
 *   reply: read exactly `expect` bytes, send `reply` and half-close, then read on until the client's EOF
 *          (bytes past `expect` are counted too), so the server's half-close comes first.
 */
import { createHash } from "node:crypto";

export interface DigestRecord {
  readonly received: number;
  readonly receivedSha256: string;
  readonly sent: number;
  readonly sentSha256: string;
  /** The client half-closed (read returned EOF), rather than the connection failing. */
  readonly eof: boolean;
  readonly error?: string;
}

export type DigestBehaviour =
  | { readonly kind: "echo" }
  | { readonly kind: "reply"; readonly expect: number; readonly reply: Uint8Array };

export interface DigestServer {
  readonly ip: string;
  readonly port: number;
  /** The record of the n-th accepted connection (0-based), once it has finished. */
  finished(n: number, timeoutMs?: number): Promise<DigestRecord>;
  readonly accepted: number;
  close(): Promise<void>;
}

export function startDigestServer(ip: string, port: number, behaviour: DigestBehaviour): DigestServer {
  const l = Deno.listen({ hostname: ip, port });
  const results: Promise<DigestRecord>[] = [];
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    try {
      for await (const c of l) {
        conns.add(c);
        results.push(serve(c, behaviour).finally(() => conns.delete(c)));
      }
    } catch { /* listener closed */ }
  })();
  return {
    ip,
    port,
    get accepted() {
      return results.length;
    },
    async finished(n, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (results.length <= n) {
        if (Date.now() > deadline) throw new Error(`digest server: connection ${n} never arrived`);
        await new Promise((r) => setTimeout(r, 20));
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`digest server: connection ${n} still open`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        return await Promise.race([results[n], late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
      await Promise.allSettled(results);
    },
  };
}

async function writeAll(c: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await c.write(b.subarray(off));
}

async function serve(c: Deno.Conn, b: DigestBehaviour): Promise<DigestRecord> {
  const inHash = createHash("sha256");
  const outHash = createHash("sha256");
  let received = 0;
  let sent = 0;
  let eof = false;
  let error: string | undefined;
  const buf = new Uint8Array(256 * 1024);
  try {
    if (b.kind === "reply") {
      while (received < b.expect) {
        const n = await c.read(buf.subarray(0, Math.min(buf.length, b.expect - received)));
        if (n === null) {
          eof = true;
          break;
        }
        inHash.update(buf.subarray(0, n));
        received += n;
      }
      outHash.update(b.reply);
      await writeAll(c, b.reply);
      sent += b.reply.length;
      await c.closeWrite();
    }
    while (!eof) {
      const n = await c.read(buf);
      if (n === null) {
        eof = true;
        break;
      }
      const chunk = buf.subarray(0, n);
      inHash.update(chunk);
      received += n;
      if (b.kind === "echo") {
        outHash.update(chunk);
        await writeAll(c, chunk);
        sent += n;
      }
    }
    if (b.kind === "echo") await c.closeWrite();
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    try {
      c.close();
    } catch { /* closed */ }
  }
  return {
    received,
    receivedSha256: inHash.digest("hex"),
    sent,
    sentSha256: outHash.digest("hex"),
    eof,
    error,
  };
}
