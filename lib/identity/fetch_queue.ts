/**
 * The certificate fetches waiting and running: at most `maxConcurrent` run at once, the waiting ones
 * start by priority (RealTime > Warmup > Background, as ztunnel's SecretManager orders them), each
 * priority in arrival order.
 */

export const REALTIME = 0, WARMUP = 1, BACKGROUND = 2;
export type FetchPriority = typeof REALTIME | typeof WARMUP | typeof BACKGROUND;

export class FetchQueue<T> {
  readonly #maxConcurrent: number;
  readonly #run: (item: T) => Promise<void>;
  readonly #queues: [T[], T[], T[]] = [[], [], []];
  readonly #queuedAt = new Map<T, FetchPriority>();
  readonly #running = new Set<T>();
  #closed = false;

  /** `run` does one fetch; the next waiting one starts when its promise settles. */
  constructor(maxConcurrent: number, run: (item: T) => Promise<void>) {
    this.#maxConcurrent = maxConcurrent;
    this.#run = run;
  }

  /** Queues `item` at `prio`, or raises its priority if it is already queued lower; no-op while running. */
  enqueue(item: T, prio: FetchPriority): void {
    if (this.#closed || this.#running.has(item)) return;
    const at = this.#queuedAt.get(item);
    if (at !== undefined && at <= prio) return;
    this.remove(item);
    this.#queuedAt.set(item, prio);
    this.#queues[prio].push(item);
    this.#pump();
  }

  /** Takes `item` out of the queue (not a running one); false when it was not queued. */
  remove(item: T): boolean {
    const at = this.#queuedAt.get(item);
    if (at === undefined) return false;
    const q = this.#queues[at];
    const i = q.indexOf(item);
    if (i >= 0) q.splice(i, 1);
    this.#queuedAt.delete(item);
    return true;
  }

  isQueued(item: T): boolean {
    return this.#queuedAt.has(item);
  }

  /** Drops every waiting item; running ones finish, and nothing starts after them. */
  close(): void {
    this.#closed = true;
    this.#queues.forEach((q) => (q.length = 0));
    this.#queuedAt.clear();
  }

  #pump(): void {
    while (this.#running.size < this.#maxConcurrent) {
      const item = this.#queues.find((q) => q.length > 0)?.shift();
      if (item === undefined) return;
      this.#queuedAt.delete(item);
      this.#start(item);
    }
  }

  #start(item: T): void {
    this.#running.add(item);
    this.#run(item).finally(() => {
      this.#running.delete(item);
      if (!this.#closed) this.#pump();
    });
  }
}
