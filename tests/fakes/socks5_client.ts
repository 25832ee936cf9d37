/** A SOCKS5 client for tests: CONNECT through a pod's 15080 listener, returning the reply code. */
export interface Socks5Connection {
  readonly reply: number;
  readonly conn: Deno.Conn;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error(`socks5: closed after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

/** Connects via SOCKS5 to `host` (IPv4 literal or domain) and `port`. The conn is closed unless reply is 0. */
export async function socks5Connect(
  proxy: { ip: string; port: number },
  host: string,
  port: number,
): Promise<Socks5Connection> {
  const conn = await Deno.connect({ hostname: proxy.ip, port: proxy.port });
  conn.setNoDelay(true);
  await conn.write(new Uint8Array([5, 1, 0]));
  const [ver, method] = await readExactly(conn, 2);
  if (ver !== 5 || method !== 0) throw new Error(`socks5: bad greeting reply ${ver} ${method}`);
  let req: Uint8Array;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) req = new Uint8Array([5, 1, 0, 1, ...v4.slice(1).map(Number), port >> 8, port & 255]);
  else {
    const name = new TextEncoder().encode(host);
    req = new Uint8Array([5, 1, 0, 3, name.length, ...name, port >> 8, port & 255]);
  }
  await conn.write(req);
  let head: Uint8Array;
  try {
    head = await readExactly(conn, 4);
  } catch (e) {
    conn.close();
    throw e;
  }
  const reply = head[1];
  const addrLen = head[3] === 1 ? 4 : head[3] === 4 ? 16 : (await readExactly(conn, 1))[0];
  await readExactly(conn, addrLen + 2);
  if (reply !== 0) conn.close();
  return { reply, conn };
}

/** Writes all of `data`, half-closes, and reads everything back until EOF. */
export async function roundTrip(conn: Deno.Conn, data: Uint8Array): Promise<Uint8Array> {
  const reader = (async () => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(256 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  })();
  let off = 0;
  while (off < data.length) {
    off += await conn.write(data.subarray(off, Math.min(data.length, off + (1 << 20))));
  }
  await conn.closeWrite();
  const got = await reader;
  conn.close();
  return got;
}
