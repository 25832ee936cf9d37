/**
 * ztunnel's wait_for_workload for DNS: a request from a pod whose xDS workload is not known yet waits up
 * to a deadline for it (checked every 50 ms by one timer, whatever the number of waiting requests), then
 * gets undefined. At most `maxWaiting` requests wait at once; more get undefined at once.
 */
import type { Workload } from "../state/types.ts";

interface Waiter {
  readonly deadline: number;
  readonly resolve: (w: Workload | undefined) => void;
}

export class WorkloadWaiter {
  #waiters = new Set<Waiter>();
  #poll?: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(
    readonly lookup: () => Workload | undefined,
    readonly waitMs = 5000,
    readonly maxWaiting = 1024,
  ) {}

  get waiting(): number {
    return this.#waiters.size;
  }

  /** The workload now, or once it appears; undefined after `waitMs`, when full, or once closed. */
  get(): Promise<Workload | undefined> | "full" {
    const w = this.lookup();
    if (w || this.#closed) return Promise.resolve(w);
    if (this.#waiters.size >= this.maxWaiting) return "full";
    return new Promise((resolve) => {
      this.#waiters.add({ deadline: performance.now() + this.waitMs, resolve });
      this.#poll ??= setInterval(() => this.#check(), 50);
    });
  }

  #check(): void {
    const w = this.#closed ? undefined : this.lookup();
    const now = performance.now();
    for (const x of [...this.#waiters]) {
      if (w || this.#closed || now >= x.deadline) {
        this.#waiters.delete(x);
        x.resolve(w);
      }
    }
    if (this.#waiters.size === 0 && this.#poll !== undefined) {
      clearInterval(this.#poll);
      this.#poll = undefined;
    }
  }

  /** Every waiting request gets undefined now. */
  close(): void {
    this.#closed = true;
    this.#check();
  }
}
