/**
 * The per-connection budgets that keep a hostile peer's cheap frames from costing us much (each
 * exhausted budget is an H2Violation: GOAWAY ENHANCE_YOUR_CALM):
 * - glitches: zero-progress frames, a token bucket (nghttp2's glitch limiter);
 * - the DATA-frame budget: a piece under 256 bytes costs 256 − size until released (h2's);
 * - pinned receive buffers: small pieces may keep whole buffers alive up to a byte budget, past it
 *   they are copied (no violation);
 * - streams reset by the peer before we answered them, at once (h2's pending-accept resets);
 * - streams we reset for the peer's stream errors, over the connection's life (h2's local error resets).
 */
import { H2Violation } from "./h2_error.ts";
import type { H2Limits } from "./h2_options.ts";
import { FloodBudget } from "./flood_budget.ts";

/** A DATA piece under this many bytes costs (this − size) of the DATA-frame budget until released. */
export const SMALL_DATA = 256;

export class SessionBudgets {
  readonly #limits: H2Limits;
  readonly #glitches: FloodBudget;
  #data: number;
  #pin: number;
  #pendingResets = 0;
  #localErrors = 0;

  constructor(limits: H2Limits) {
    this.#limits = limits;
    this.#glitches = new FloodBudget(limits.glitchBurst, limits.glitchRatePerSecond);
    this.#data = limits.dataFrameBudget;
    this.#pin = limits.maxPinnedBytes;
  }

  /** n zero-progress frames of a kind (`what` names them in the GOAWAY). */
  glitch(what: string, n = 1): void {
    if (!this.#glitches.spend(n)) throw new H2Violation("glitch_flood", `too many ${what}`);
  }

  /** A DATA piece of n bytes arrived: its charge (refunded on release), 0 for big pieces. */
  chargeData(n: number): number {
    if (n >= SMALL_DATA) {
      this.#data = Math.min(this.#limits.dataFrameBudget, this.#data + n - SMALL_DATA);
      return 0;
    }
    if (n === 0) return 0;
    const charge = SMALL_DATA - n;
    if (this.#data < charge) throw new H2Violation("small_data_flood", "too many small DATA frames");
    this.#data -= charge;
    return charge;
  }

  /** May a piece keep a receive buffer of `bytes` alive? (Else it is copied.) */
  pin(bytes: number): boolean {
    if (this.#pin < bytes) return false;
    this.#pin -= bytes;
    return true;
  }

  refund(charge: number, pinned: number): void {
    this.#data = Math.min(this.#limits.dataFrameBudget, this.#data + charge);
    this.#pin += pinned;
  }

  /** The peer reset a stream we handed over and have not answered. */
  resetBeforeAnswer(): void {
    if (++this.#pendingResets > this.#limits.maxPendingResetStreams) {
      throw new H2Violation(
        "rapid_reset",
        `more than ${this.#limits.maxPendingResetStreams} streams reset before an answer`,
      );
    }
  }

  /** ... and now the application has answered one of those. */
  resetAnswered(): void {
    this.#pendingResets--;
  }

  /** We reset a stream for the peer's error. */
  localError(): void {
    if (++this.#localErrors > this.#limits.maxLocalErrorResets) {
      throw new H2Violation(
        "stream_error_flood",
        `more than ${this.#limits.maxLocalErrorResets} stream errors`,
      );
    }
  }
}
