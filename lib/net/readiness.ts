/**
 * Readiness of the sockets zt makes itself (FFI listening sockets, connects in progress, the ZDS
 * socket): one `poll(2)` over all of them, running on one worker thread at a time, woken through an
 * eventfd when the set changes. Callers then do their non-blocking syscall on the main thread (so errno
 * is theirs). Sockets handed to node:net are driven by Deno itself, never by this.
 *
 * Cost: one wait in flight however many fds are watched; no thread is held while nothing is watched.
 */
import { C, type Libc } from "./libc.ts";

export type Interest = "read" | "write";
/** `ready`: readable/writable, or an error or hang-up to read with the next syscall. */
export type WaitResult = "ready" | "timeout" | "cancelled";

interface Waiter {
  readonly key: number;
  readonly fd: number;
  readonly events: number;
  readonly deadline: number;
  readonly resolve: (r: WaitResult) => void;
}

const POLLFD_SIZE = 8;

function keyOf(fd: number, interest: Interest): number {
  return fd * 2 + (interest === "write" ? 1 : 0);
}
const WAKE = new BigUint64Array([1n]);

export class Readiness {
  readonly #libc: Libc;
  readonly #wakeFd: number;
  readonly #wakeBuf = new Uint8Array(new ArrayBuffer(8));
  /** Keyed by fd and interest: a read and a write may be awaited on one fd at the same time. */
  #waiters = new Map<number, Waiter>();
  #running = false;
  #inPoll = false;
  #closed = false;

  constructor(libc: Libc) {
    this.#libc = libc;
    this.#wakeFd = libc.check(libc.sym.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC), "eventfd");
  }

  /** Number of fds being waited on (for tests and metrics). */
  get watched(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves once `fd` is ready for `interest` (or failed: the caller's next syscall says how), or with
   * "timeout" after `timeoutMs`, or "cancelled". One read and one write wait per fd at a time.
   */
  wait(fd: number, interest: Interest, timeoutMs?: number): Promise<WaitResult> {
    if (this.#closed) return Promise.resolve("cancelled");
    const key = keyOf(fd, interest);
    if (this.#waiters.has(key)) throw new Error(`fd ${fd} is already being waited on for ${interest}`);
    return new Promise<WaitResult>((resolve) => {
      this.#waiters.set(key, {
        key,
        fd,
        events: interest === "read" ? C.POLLIN : C.POLLOUT,
        deadline: timeoutMs === undefined ? Infinity : performance.now() + timeoutMs,
        resolve,
      });
      this.#kick();
    });
  }

  /** Ends the waits on `fd` (resolving "cancelled"): call it before closing an fd being waited on. */
  cancel(fd: number): void {
    let found = false;
    for (const interest of ["read", "write"] as const) {
      const key = keyOf(fd, interest);
      const w = this.#waiters.get(key);
      if (!w) continue;
      this.#waiters.delete(key);
      w.resolve("cancelled");
      found = true;
    }
    if (found) this.#wake();
  }

  /** Cancels every wait; the worker thread returns. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters.values()) w.resolve("cancelled");
    this.#waiters.clear();
    this.#wake();
    if (!this.#running) this.#libc.closeFd(this.#wakeFd);
  }

  #kick(): void {
    if (this.#running) this.#wake();
    else this.#run();
  }

  #wake(): void {
    if (this.#inPoll) this.#libc.sym.write(this.#wakeFd, new Uint8Array(WAKE.buffer), 8n);
  }

  async #run(): Promise<void> {
    this.#running = true;
    const sym = this.#libc.sym;
    try {
      while (this.#waiters.size > 0 && !this.#closed) {
        const list = [...this.#waiters.values()];
        const buf = new Uint8Array(new ArrayBuffer(POLLFD_SIZE * (list.length + 1)));
        const dv = new DataView(buf.buffer);
        dv.setInt32(0, this.#wakeFd, true);
        dv.setInt16(4, C.POLLIN, true);
        let deadline = Infinity;
        list.forEach((w, i) => {
          dv.setInt32(POLLFD_SIZE * (i + 1), w.fd, true);
          dv.setInt16(POLLFD_SIZE * (i + 1) + 4, w.events, true);
          deadline = Math.min(deadline, w.deadline);
        });
        const timeout = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
        this.#inPoll = true;
        await sym.pollAsync(buf, BigInt(list.length + 1), timeout);
        this.#inPoll = false;
        if (dv.getInt16(6, true) !== 0) sym.read(this.#wakeFd, this.#wakeBuf, 8n);
        list.forEach((w, i) => {
          if (dv.getInt16(POLLFD_SIZE * (i + 1) + 6, true) === 0) return;
          if (this.#waiters.get(w.key) !== w) return; // cancelled (or replaced) meanwhile
          this.#waiters.delete(w.key);
          w.resolve("ready");
        });
        const now = performance.now();
        for (const w of [...this.#waiters.values()]) {
          if (w.deadline <= now) {
            this.#waiters.delete(w.key);
            w.resolve("timeout");
          }
        }
      }
    } finally {
      this.#running = false;
      this.#inPoll = false;
      if (this.#closed) this.#libc.closeFd(this.#wakeFd);
    }
  }
}
