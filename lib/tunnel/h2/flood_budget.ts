/**
 * A token bucket for frames that cost work and make no progress (nghttp2's "glitch" limiter): `burst`
 * tokens to start with, refilled at `perSecond` up to `burst`. Refill is computed lazily on spend, so an
 * idle connection holds no timer. `perSecond` 0 makes it a fixed allowance (tests).
 */
export class FloodBudget {
  #tokens: number;
  #last: number;

  constructor(
    readonly burst: number,
    readonly perSecond: number,
    readonly now: () => number = performance.now.bind(performance),
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  /** Takes n tokens; false when there are not enough (the budget is spent; nothing is taken). */
  spend(n = 1): boolean {
    if (this.perSecond > 0) {
      const t = this.now();
      this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.perSecond);
      this.#last = t;
    }
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  get tokens(): number {
    return this.#tokens;
  }
}
