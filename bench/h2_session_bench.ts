/**
 * Micro-bench of the HTTP/2 session's receive path (frame parsing, flow control, budgets, stream
 * hand-off), in-process: a server H2Session on an in-memory socket is fed a CONNECT and then DATA in
 * 64 KiB chunks (as node:tls delivers them), its stream attached to a sink that releases every byte at
 * once (as the relay does after a write). Reports MB/s for big and small DATA frames.
 *
 *   deno run -A bench/h2_session_bench.ts [root...]
 *
 * Each `root` is a checkout whose lib/tunnel/h2/session.ts is measured (default: this tree), so an
 * older version can be measured in the same run (A/B):
 *   git archive <commit> lib | tar -x -C /tmp/old && deno run -A bench/h2_session_bench.ts /tmp/old .
 */
interface Socket {
  write(d: Uint8Array, cb?: () => void): boolean;
  end(): void;
  destroy(): void;
  on(e: string, fn: (...a: never[]) => void): unknown;
}

interface SessionModule {
  H2Session: new (s: Socket, role: "server", o: Record<string, number>) => {
    onStream?: (s: { attach(sink: unknown): void; release(n: number): void }) => void;
    respond(s: unknown, h: Array<[string, string]>, end: boolean): void;
    close(): void;
  };
}

const MB = 1e6;
const TOTAL = 512 * 1024 * 1024;
const CHUNK = 64 * 1024;

function frameHeader(len: number, type: number, flags: number, id: number): number[] {
  return [
    len >>> 16 & 255,
    len >>> 8 & 255,
    len & 255,
    type,
    flags,
    id >>> 24 & 127,
    id >>> 16 & 255,
    id >>> 8 & 255,
    id & 255,
  ];
}

/** The client's bytes: preface, SETTINGS, SETTINGS ACK, CONNECT on stream 1, then DATA frames of `frame` bytes. */
function wire(frame: number): Uint8Array[] {
  const preface = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const authority = new TextEncoder().encode("10.0.0.1:80");
  const block = [0x02, 0x07, ...new TextEncoder().encode("CONNECT"), 0x01, authority.length, ...authority];
  const head = new Uint8Array([
    ...preface,
    ...frameHeader(0, 4, 0, 0),
    ...frameHeader(0, 4, 1, 0),
    ...frameHeader(block.length, 1, 4, 1),
    ...block,
  ]);
  const one = new Uint8Array(9 + frame);
  one.set(frameHeader(frame, 0, 0, 1));
  // Whole frames, about 4 MiB of them, cut into 64 KiB chunks regardless of frame boundaries.
  const n = Math.max(1, Math.round((4 << 20) / one.length));
  const stream = new Uint8Array(n * one.length);
  for (let i = 0; i < n; i++) stream.set(one, i * one.length);
  const chunks = [head];
  for (let o = 0; o < stream.length; o += CHUNK) chunks.push(stream.slice(o, o + CHUNK));
  return chunks;
}

async function measure(root: string, frame: number): Promise<number> {
  const mod = await import(`file://${Deno.realPathSync(root)}/lib/tunnel/h2/session.ts`) as SessionModule;
  let onData: (c: Uint8Array) => void = () => {};
  const socket: Socket = {
    write: () => true,
    end() {},
    destroy() {},
    on(e: string, fn: (...a: never[]) => void) {
      if (e === "data") onData = fn as unknown as (c: Uint8Array) => void;
    },
  };
  const max = 0x7fffffff;
  const session = new mod.H2Session(socket, "server", {
    streamWindow: max,
    connectionWindow: max,
    maxFrameSize: 1 << 20,
    maxConcurrentStreams: 100,
    maxHeaderListSize: 65536,
    keepaliveIntervalMs: 0,
    prefaceTimeoutMs: 0,
  });
  let received = 0;
  let done = false;
  session.onStream = (s) => {
    session.respond(s, [[":status", "200"]], false);
    s.attach({
      onData: (c: Uint8Array) => {
        received += c.length;
        s.release(c.length);
      },
      onEnd() {},
      onError(e: Error) {
        if (!done) throw e;
      },
    });
  };
  const chunks = wire(frame);
  onData(chunks[0]);
  const body = chunks.slice(1);
  // Fresh chunks each round, as a socket would deliver them (views of them are kept by the stream).
  const bodyBytes = body.reduce((n, c) => n + c.length, 0);
  const rounds = Math.ceil(TOTAL / bodyBytes);
  const copies = Array.from({ length: 4 }, () => body.map((c) => c.slice()));
  const start = performance.now();
  for (let r = 0; r < rounds; r++) for (const c of copies[r % 4]) onData(c.slice());
  const ms = performance.now() - start;
  done = true;
  session.close();
  if (received < rounds * bodyBytes * 0.9) throw new Error(`only ${received} bytes arrived`);
  return received / MB / (ms / 1000);
}

const roots = Deno.args.length ? Deno.args : ["."];
const frames = (Deno.env.get("H2_BENCH_FRAMES") ?? `${1 << 20},16384,1024`).split(",").map(Number);
const results: Record<string, Record<string, number[]>> = {};
for (let run = 0; run < 3; run++) {
  for (const root of roots) {
    for (const f of frames) {
      const v = await measure(root, f);
      ((results[root] ??= {})[`${f}`] ??= []).push(v);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`receive path, MB/s (median of 3), ${TOTAL / (1 << 20)} MiB per run, 64 KiB chunks`);
console.log(
  ["root", ...frames.map((f) => `DATA ${f >= 1024 * 1024 ? f / 1048576 + " MiB" : f / 1024 + " KiB"}`)].join(
    "\t",
  ),
);
for (const root of roots) {
  console.log([root, ...frames.map((f) => median(results[root][`${f}`]).toFixed(0))].join("\t"));
}
