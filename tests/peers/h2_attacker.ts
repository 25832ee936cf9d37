/**
 * A hostile HTTP/2 client for the abuse test and bench/abuse.ts, independent of zt's own HTTP/2 code
 * (frames from h2_frames.ts): sent over mTLS (node:tls with a mesh certificate) as fast as the socket
 * takes them, and every frame the server sends back is decoded, so a test sees how and when the server
 * ended the connection (GOAWAY and its code, RST_STREAM, FIN or reset). Reading can be stopped
 * (`stopReading`) to play a peer that never reads.
 */
import net from "node:net";
import tls from "node:tls";
import {
  ACK,
  frame,
  FrameType,
  HEADER,
  join,
  MAX_WINDOW,
  PREFACE,
  settings,
  SETTINGS_INITIAL_WINDOW_SIZE,
  statusOf,
} from "./h2_frames.ts";

export interface Goaway {
  readonly lastStreamId: number;
  readonly code: number;
  readonly debug: string;
  /** performance.now() when it arrived. */
  readonly at: number;
}

export interface AttackerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM strings of the client's mesh certificate chain, key and trust roots. */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** Send the connection preface, an empty SETTINGS and a SETTINGS ACK once connected (default true). */
  readonly preface?: boolean;
}

/** How a flood ended. */
export type FloodEnd = "limit" | "blocked" | "closed" | "stopped";

export class H2Attacker {
  readonly socket: tls.TLSSocket;
  /** Frames received, by type. */
  readonly received = new Map<number, number>();
  /** Every RST_STREAM received, in order: [stream, code]. */
  readonly resets: Array<[number, number]> = [];
  /** performance.now() of the first RST_STREAM. */
  firstResetAt?: number;
  /** The server's SETTINGS_INITIAL_WINDOW_SIZE (what each new stream may carry towards it). */
  serverInitialWindow = 65535;
  /** WINDOW_UPDATE increments received per stream (0: the connection). */
  readonly windowUpdates = new Map<number, number>();
  /** The :status of each stream's response (its first HEADERS; NaN when not decodable here). */
  readonly responses = new Map<number, number>();
  /** DATA received per stream (the first 64 KiB of each). */
  readonly streamData = new Map<number, Uint8Array[]>();
  goaway?: Goaway;
  bytesIn = 0;
  /** Bytes handed to the socket. */
  bytesOut = 0;
  /** performance.now() of the connect, the FIN, the close; the close's error, if any. */
  readonly openedAt = performance.now();
  endedAt?: number;
  closedAt?: number;
  closeError?: string;
  readonly #closed: Promise<void>;
  #pending: Uint8Array = new Uint8Array(0);
  #waiters: Array<() => void> = [];
  #port = 0;
  #stopped = false;

  private constructor(readonly opts: AttackerOptions, readonly tcp: net.Socket) {
    this.socket = tls.connect({
      socket: tcp,
      cert: opts.cert,
      key: opts.key,
      ca: opts.ca,
      ALPNProtocols: ["h2"],
      checkServerIdentity: () => undefined,
    });
    this.socket.on("data", (c: Uint8Array) => this.#onData(c));
    this.socket.on("end", () => {
      this.endedAt ??= performance.now();
      this.#wake();
    });
    this.socket.on("error", (e: Error) => (this.closeError ??= (e as { code?: string }).code ?? e.message));
    this.#closed = new Promise((r) =>
      this.socket.once("close", () => {
        this.closedAt = performance.now();
        tcp.destroy();
        this.#wake();
        r();
      })
    );
  }

  /** An mTLS connection, past the handshake (and the preface unless `preface: false`). */
  static async connect(opts: AttackerOptions): Promise<H2Attacker> {
    const tcp = net.connect({ host: opts.host, port: opts.port });
    await new Promise<void>((resolve, reject) => tcp.once("connect", resolve).once("error", reject));
    const a = new H2Attacker(opts, tcp);
    await new Promise<void>((resolve, reject) => {
      a.socket.once("secureConnect", () => {
        a.#port = tcp.localPort ?? 0;
        resolve();
      });
      a.socket.once(
        "close",
        () => reject(new Error(`attacker: closed during the handshake (${a.closeError})`)),
      );
    });
    if (opts.preface ?? true) a.socket.write(join([PREFACE, settings(), frame(FrameType.SETTINGS, ACK, 0)]));
    return a;
  }

  /** The attacker's source port (kept: a closed socket no longer has one). */
  get localPort(): number {
    return this.#port;
  }
  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  /** The first RST_STREAM code received for stream `id`. */
  resetOf(id: number): number | undefined {
    return this.resets.find(([s]) => s === id)?.[1];
  }

  /** Stop reading: the server's frames pile up in the kernel, its writes back up. */
  stopReading(): void {
    this.socket.pause();
    // Deno's TLS keeps reading a paused TLS socket's transport: stop the TCP socket's own reads.
    if (!this.#stopped) this.#readHandle()?.readStop?.();
    this.#stopped = true;
  }
  startReading(): void {
    this.socket.resume();
    if (this.#stopped && !this.tcp.destroyed) this.#readHandle()?.readStart?.();
    this.#stopped = false;
  }

  #readHandle(): { readStart?(): unknown; readStop?(): unknown } | undefined {
    return (this.tcp as unknown as { _handle?: { readStart?(): unknown; readStop?(): unknown } })._handle;
  }

  /** Writes `buf`; "blocked" when the socket did not drain within `blockMs`. */
  async write(buf: Uint8Array, blockMs = 300): Promise<"ok" | "blocked" | "closed"> {
    if (this.socket.destroyed || this.isClosed) return "closed";
    this.bytesOut += buf.length;
    if (this.socket.write(buf)) return "ok";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      new Promise<"ok">((res) => this.socket.once("drain", () => res("ok"))),
      this.#closed.then(() => "closed" as const),
      new Promise<"blocked">((res) => (timer = setTimeout(() => res("blocked"), blockMs))),
    ]);
    clearTimeout(timer);
    return r;
  }

  /**
   * Writes `next()` again and again until `maxBytes` went out, a write blocks for `blockMs`, the
   * connection closes or `stop()` holds.
   */
  async flood(
    next: () => Uint8Array,
    opts: { maxBytes: number; blockMs?: number; stop?: () => boolean },
  ): Promise<{ sent: number; end: FloodEnd }> {
    let sent = 0;
    // What the socket took: bytes still queued in this process never reached the server.
    const taken = (end: FloodEnd) => ({ sent: Math.max(0, sent - this.socket.writableLength), end });
    while (sent < opts.maxBytes) {
      if (opts.stop?.() || this.goaway) return taken("stopped");
      const buf = next();
      const r = await this.write(buf, opts.blockMs);
      if (r === "closed") return taken("closed");
      sent += buf.length;
      if (r === "blocked") return taken("blocked");
    }
    return taken("limit");
  }

  /** Resolves once `cond` holds (checked on every frame and at the close), false after `ms`. */
  async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!cond()) {
      const left = deadline - performance.now();
      if (left <= 0 || this.isClosed) return cond();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
    return true;
  }

  /** Reads until the server closes the connection; false if it is still open after `ms`. */
  async closed(ms: number): Promise<boolean> {
    this.startReading();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      this.#closed.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
    clearTimeout(timer);
    return done;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Uint8Array): void {
    this.bytesIn += chunk.length;
    let buf = this.#pending.length ? join([this.#pending, chunk]) : chunk;
    let o = 0;
    while (buf.length - o >= HEADER) {
      const len = buf[o] << 16 | buf[o + 1] << 8 | buf[o + 2];
      if (buf.length - o < HEADER + len) break;
      const type = buf[o + 3];
      const id = new DataView(buf.buffer, buf.byteOffset + o + 5, 4).getUint32(0) & MAX_WINDOW;
      const p = buf.subarray(o + HEADER, o + HEADER + len);
      this.#onFrame(type, id, p);
      o += HEADER + len;
    }
    buf = buf.subarray(o);
    this.#pending = buf.length ? buf.slice() : new Uint8Array(0);
    this.#wake();
  }

  #onFrame(type: number, id: number, p: Uint8Array): void {
    this.received.set(type, (this.received.get(type) ?? 0) + 1);
    const dv = new DataView(p.buffer, p.byteOffset, p.length);
    if (type === FrameType.GOAWAY && p.length >= 8 && !this.goaway) {
      this.goaway = {
        lastStreamId: dv.getUint32(0) & MAX_WINDOW,
        code: dv.getUint32(4),
        debug: new TextDecoder().decode(p.subarray(8)),
        at: performance.now(),
      };
    } else if (type === FrameType.RST_STREAM && p.length === 4) {
      this.resets.push([id, dv.getUint32(0)]);
      this.firstResetAt ??= performance.now();
    } else if (type === FrameType.SETTINGS && p.length % 6 === 0) {
      for (let i = 0; i < p.length; i += 6) {
        if (dv.getUint16(i) === SETTINGS_INITIAL_WINDOW_SIZE) this.serverInitialWindow = dv.getUint32(i + 2);
      }
    } else if (type === FrameType.WINDOW_UPDATE && p.length === 4) {
      this.windowUpdates.set(id, (this.windowUpdates.get(id) ?? 0) + (dv.getUint32(0) & MAX_WINDOW));
    } else if (type === FrameType.HEADERS && !this.responses.has(id)) {
      this.responses.set(id, statusOf(p));
    } else if (type === FrameType.DATA && p.length > 0) {
      const parts = this.streamData.get(id) ?? [];
      if (parts.reduce((n, x) => n + x.length, 0) < 65536) parts.push(p.slice());
      this.streamData.set(id, parts);
    }
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}
