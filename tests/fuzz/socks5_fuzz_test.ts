/**
 * Property-based fuzzing of the SOCKS5 handshake reader (lib/proxy/socks5.ts) over an in-memory
 * connection: random and mutated client bytes, in any chunking, give a target or a Socks5Error (never
 * another exception, never a read past what it needs); well-formed requests parse exactly, with the
 * bytes after the request handed back.
 */
import fc from "fast-check";
import { EventEmitter } from "node:events";
import type net from "node:net";
import { fuzzParams } from "./budget.ts";
import { readSocks5Request, Socks5Error } from "../../lib/proxy/socks5.ts";

/**
 * The client side of a handshake as the node:net socket the reader takes: `chunks` arrive as "data"
 * events in order (one per tick), then "end"; writes are kept. Pausing is honoured.
 */
function fakeConn(chunks: Uint8Array[]): net.Socket & { written: number[] } {
  const queue = chunks.map((c) => c.slice());
  const written: number[] = [];
  const e = new EventEmitter() as EventEmitter & { written: number[]; paused: boolean };
  e.written = written;
  e.paused = false;
  const pump = () => {
    if (e.paused) return;
    const c = queue.shift();
    if (c === undefined) return void e.emit("end");
    e.emit("data", c);
    setTimeout(pump, 0);
  };
  Object.assign(e, {
    write(b: Uint8Array, cb?: (err?: Error) => void): boolean {
      written.push(...b);
      queueMicrotask(() => cb?.());
      return true;
    },
    pause() {
      e.paused = true;
      return e;
    },
    resume() {
      e.paused = false;
      setTimeout(pump, 0);
      return e;
    },
  });
  setTimeout(pump, 0);
  return e as unknown as net.Socket & { written: number[] };
}

function chunked(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, data.length]) {
    if (c > prev) out.push(data.slice(prev, c));
    prev = c;
  }
  return out;
}

async function readChecked(chunks: Uint8Array[]) {
  try {
    return await readSocks5Request(fakeConn(chunks));
  } catch (e) {
    if (e instanceof Socks5Error) return undefined;
    throw e;
  }
}

const address = fc.oneof(
  fc.tuple(fc.constant(1), fc.uint8Array({ minLength: 4, maxLength: 4 })),
  fc.tuple(fc.constant(4), fc.uint8Array({ minLength: 16, maxLength: 16 })),
  fc.string({ maxLength: 40 }).map((h) => {
    const b = new TextEncoder().encode(h).subarray(0, 255);
    return [3, new Uint8Array([b.length, ...b])] as [number, Uint8Array];
  }),
);

const request = fc.tuple(address, fc.nat(65535), fc.uint8Array({ maxLength: 40 })).map((
  [[atyp, a], port, tail],
) => ({
  atyp,
  port,
  tail,
  bytes: new Uint8Array([5, 1, 0, 5, 1, 0, atyp, ...a, port >> 8, port & 255, ...tail]),
}));

Deno.test("fuzz socks5: random client bytes give a target or a Socks5Error", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (data, cuts) => {
        const r = await readChecked(chunked(data, cuts));
        if (r && !(r.target.port >= 0 && r.target.port <= 65535)) throw new Error(`port ${r.target.port}`);
      },
    ),
    fuzzParams(),
  );
});

Deno.test("fuzz socks5: well-formed requests parse exactly, in any chunking; the rest is handed back", async () => {
  await fc.assert(
    fc.asyncProperty(request, fc.array(fc.nat(), { maxLength: 6 }), async (req, cuts) => {
      const r = await readChecked(chunked(req.bytes, cuts));
      if (!r) throw new Error("a well-formed request was refused");
      if (r.target.port !== req.port) throw new Error(`port ${r.target.port} != ${req.port}`);
      if (r.target.kind !== (req.atyp === 3 ? "domain" : "ip")) throw new Error(`kind ${r.target.kind}`);
      // Bytes that came in the same reads as the request belong to the tunnel (zt sends them on).
      const rest = [...r.rest];
      if (rest.length > req.tail.length || rest.some((b, i) => b !== req.tail[i])) {
        throw new Error(`rest ${rest} is not a prefix of ${[...req.tail]}`);
      }
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz socks5: mutated requests give a target or a Socks5Error", async () => {
  const edit = fc.tuple(fc.nat(2), fc.nat(), fc.nat(255));
  await fc.assert(
    fc.asyncProperty(request, fc.array(edit, { minLength: 1, maxLength: 5 }), async (req, edits) => {
      const b = [...req.bytes];
      for (const [kind, pos, v] of edits) {
        const i = pos % b.length;
        if (kind === 0) b[i] = v;
        else if (kind === 1) b.splice(i, 1);
        else b.splice(i, 0, v);
      }
      await readChecked([new Uint8Array(b)]);
    }),
    fuzzParams(),
  );
});
