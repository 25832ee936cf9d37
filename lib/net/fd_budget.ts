/**
 * The process's file descriptors as a budget for the sockets zt opens. At start the soft RLIMIT_NOFILE is
 * raised to the hard limit (as ztunnel does); a reserve below it is kept for everything that is not a
 * proxied socket (Deno's own files, timers' threads, certificates, logs). Listeners stop accepting while
 * the budget is spent — connections wait in the kernel's backlog — and resume as sockets close, so a flood
 * of connections never drives the process into EMFILE, where Deno itself may abort.
 */
import type net from "node:net";
import { C, type Libc } from "./libc.ts";

export interface FdBudgetOptions {
  /** Descriptors kept free for everything else (default: 10% of the limit, at least 32, at most 1024). */
  readonly reserve?: number;
  /** Use this limit instead of raising and reading RLIMIT_NOFILE (tests). */
  readonly limit?: number;
  /** Descriptors already open that are not zt's sockets (default: counted at construction). */
  readonly baseline?: number;
}

export class FdBudget {
  readonly limit: number;
  readonly reserve: number;
  /** Descriptors open at start (Deno's own, zt's files): the sockets' share is what is left. */
  readonly baseline: number;
  #inUse = 0;
  #waiters: Array<() => void> = [];

  constructor(libc: Libc | undefined, opts: FdBudgetOptions = {}) {
    this.limit = opts.limit ?? (libc ? raiseNoFileLimit(libc) : 1024);
    this.reserve = opts.reserve ?? Math.min(1024, Math.max(32, Math.floor(this.limit / 10)));
    this.baseline = opts.baseline ?? (libc ? countOpenFds(libc, this.limit) : 0);
  }

  /** Sockets zt holds now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Whether one more socket fits. */
  get available(): boolean {
    return this.baseline + this.#inUse < this.limit - this.reserve;
  }

  /** Counts `socket` until it closes. */
  hold(socket: net.Socket): void {
    this.#inUse++;
    socket.once("close", () => this.#release());
  }

  /** Counts one fd held outside a node socket (a listener); call the returned function to give it back. */
  take(): () => void {
    this.#inUse++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#release();
    };
  }

  /** Resolves once a socket fits again (at once if one does). */
  whenAvailable(): Promise<void> {
    if (this.available) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  #release(): void {
    this.#inUse--;
    if (!this.available || this.#waiters.length === 0) return;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

/** How many descriptors are open now (F_GETFD over the first `limit`; once, at start). */
function countOpenFds(libc: Libc, limit: number): number {
  let n = 0;
  const top = Math.min(limit, 1 << 16);
  for (let fd = 0; fd < top; fd++) if (libc.sym.fcntl(fd, 1 /* F_GETFD */) >= 0) n++;
  return n;
}

/** Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force. */
export function raiseNoFileLimit(libc: Libc): number {
  const buf = new BigUint64Array(2);
  const bytes = new Uint8Array(buf.buffer);
  if (libc.sym.getrlimit(C.RLIMIT_NOFILE, bytes) !== 0) return 1024;
  if (buf[0] < buf[1]) {
    buf[0] = buf[1];
    libc.sym.setrlimit(C.RLIMIT_NOFILE, bytes);
    libc.sym.getrlimit(C.RLIMIT_NOFILE, bytes);
  }
  return Number(buf[0] > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(1 << 30) : buf[0]);
}
