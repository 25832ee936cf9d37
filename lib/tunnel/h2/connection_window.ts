/**
 * The connection-level flow-control windows (RFC 9113 §6.9): what the peer may still send us (DATA
 * past it is a FLOW_CONTROL_ERROR), the bytes we consumed and owe back as WINDOW_UPDATE (sent once half
 * the window is owed), and what we may still send (a WINDOW_UPDATE past 2^31-1 is an error).
 */
import { encodeWindowUpdate, ErrorCode, MAX_WINDOW_SIZE } from "./frame.ts";
import { H2Violation } from "./h2_error.ts";

export const DEFAULT_WINDOW = 65535;

export class ConnectionWindow {
  /** Flow-controlled bytes the peer may still send. */
  #recv: number;
  /** Consumed bytes not yet returned as WINDOW_UPDATE. */
  #owed = 0;
  readonly #threshold: number;
  /** What we may still send (H2Stream.write takes from it directly). */
  send = DEFAULT_WINDOW;
  #waiters: Array<() => void> = [];

  /** `advertised`: our connection window (a WINDOW_UPDATE raises the default to it at the start). */
  constructor(advertised: number) {
    this.#recv = Math.max(DEFAULT_WINDOW, advertised);
    this.#threshold = advertised >> 1;
  }

  /** DATA arrived: `flow` bytes off the window we advertised. */
  consume(flow: number): void {
    if (flow > this.#recv) {
      throw new H2Violation(
        "flow_control",
        "DATA beyond the connection window",
        ErrorCode.FLOW_CONTROL_ERROR,
      );
    }
    this.#recv -= flow;
  }

  /** n bytes were consumed (read, dropped or padding): the WINDOW_UPDATE to send, once enough is owed. */
  giveBack(n: number): Uint8Array | undefined {
    this.#owed += n;
    if (this.#owed < this.#threshold) return undefined;
    const f = encodeWindowUpdate(0, this.#owed);
    this.#recv += this.#owed;
    this.#owed = 0;
    return f;
  }

  /** The peer's WINDOW_UPDATE on stream 0 (increment > 0). */
  onUpdate(increment: number): void {
    if (this.send + increment > MAX_WINDOW_SIZE) {
      throw new H2Violation("flow_control", "connection window past 2^31-1", ErrorCode.FLOW_CONTROL_ERROR);
    }
    this.send += increment;
    this.wake();
  }

  /** Resolves once the send window may have grown (or the session ended). */
  wait(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }

  wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
