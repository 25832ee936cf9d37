/**
 * A node:net socket seen through Deno.Conn's pull interface (read into a caller's buffer, write, close
 * the write half): for code that drives its own loops, such as the OpenSSL TLS backend, over sockets
 * the socket factory made. Incoming chunks queue while nobody reads (the socket is paused meanwhile).
 */
import type net from "node:net";

export interface ConnAddr {
  readonly hostname: string;
  readonly port: number;
}

/** What a pull-style byte transport offers (a subset of Deno.TcpConn). */
export interface PullConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(noDelay?: boolean): void;
  readonly localAddr: ConnAddr;
  readonly remoteAddr: ConnAddr;
}

export class SocketConn implements PullConn {
  readonly #s: net.Socket;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error?: Error;
  #waiter?: () => void;

  constructor(socket: net.Socket) {
    this.#s = socket;
    socket.on("data", (c: Uint8Array) => {
      this.#chunks.push(c);
      socket.pause();
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  get localAddr(): ConnAddr {
    return { hostname: this.#s.localAddress ?? "", port: this.#s.localPort ?? 0 };
  }

  get remoteAddr(): ConnAddr {
    return { hostname: this.#s.remoteAddress ?? "", port: this.#s.remotePort ?? 0 };
  }

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      const head = this.#chunks[0];
      if (head !== undefined) {
        const n = Math.min(p.length, head.length);
        p.set(head.subarray(0, n));
        if (n === head.length) this.#chunks.shift();
        else this.#chunks[0] = head.subarray(n);
        if (this.#chunks.length === 0) this.#s.resume();
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      this.#s.resume();
      await new Promise<void>((r) => (this.#waiter = r));
    }
  }

  write(p: Uint8Array): Promise<number> {
    const copy = p.slice();
    return new Promise((resolve, reject) => this.#s.write(copy, (e) => (e ? reject(e) : resolve(p.length))));
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#s.end(() => resolve()));
  }

  close(): void {
    this.#s.destroy();
  }

  setNoDelay(noDelay = true): void {
    this.#s.setNoDelay(noDelay);
  }
}
