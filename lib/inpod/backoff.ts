/**
 * The two waits of ztunnel's ZDS client (src/inpod/workloadmanager.rs): between connect attempts, and
 * after a connection on which the hello could not be sent.
 */

/** Connect retries: the delay starts at `initialMs` and doubles *before* each sleep (first sleep 20 ms),
 *  capped at `maxMs`; a new series starts with every connect. */
export class ConnectBackoff {
  #delay: number;
  constructor(readonly initialMs = 10, readonly maxMs = 15_000) {
    this.#delay = initialMs;
  }

  /** The next sleep. */
  next(): number {
    this.#delay = Math.min(this.maxMs, this.#delay * 2);
    return this.#delay;
  }
}

export interface AnnounceBackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  readonly multiplier?: number;
  readonly jitter?: number;
  /** After this long without a reset every wait is `maxMs` (the backoff crate's max elapsed time). */
  readonly maxElapsedMs?: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** After a failed hello: exponential (5 ms, ×2, ±20% jitter, at most 15 s); reset once ready. */
export class AnnounceBackoff {
  readonly #o: Required<AnnounceBackoffOptions>;
  #interval: number;
  #started: number;

  constructor(opts: AnnounceBackoffOptions = {}) {
    this.#o = {
      initialMs: 5,
      maxMs: 15_000,
      multiplier: 2,
      jitter: 0.2,
      maxElapsedMs: 15 * 60_000,
      random: Math.random,
      now: () => performance.now(),
      ...opts,
    };
    this.#interval = this.#o.initialMs;
    this.#started = this.#o.now();
  }

  next(): number {
    const o = this.#o;
    if (o.now() - this.#started > o.maxElapsedMs) return o.maxMs;
    const spread = this.#interval * o.jitter;
    const wait = this.#interval - spread + o.random() * 2 * spread;
    this.#interval = Math.min(o.maxMs, this.#interval * o.multiplier);
    return Math.min(o.maxMs, wait);
  }

  reset(): void {
    this.#interval = this.#o.initialMs;
    this.#started = this.#o.now();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
