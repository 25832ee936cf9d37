/**
 * ztunnel's ADS reconnect policy (`run_loop`): start at 10 ms; on connection errors and
 * non-benign gRPC errors double (capped at 15 s) and wait that long; on benign closes (Unknown,
 * Cancelled, DeadlineExceeded, Unavailable "transport is closing"/"received prior goaway", which
 * is istiod's MaxConnectionAge) and clean ends wait the initial 10 ms and reset. A successful
 * response also resets the backoff.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";

export const INITIAL_BACKOFF_MS = 10;
export const MAX_BACKOFF_MS = 15_000;

/** How a stream ended, for the reconnect policy and the termination metric. */
export type StreamEnd =
  /** A benign gRPC status: reconnect at once. */
  | "reconnect"
  /** Any other gRPC status or a connection failure: back off. */
  | "error"
  /** The server ended the stream with OK. */
  | "complete";

/** Classifies a gRPC status (code + details) the way ztunnel does. */
export function classifyStatus(code: number, details: string): StreamEnd {
  if (code === GrpcStatus.OK) return "complete";
  if (code === GrpcStatus.UNKNOWN || code === GrpcStatus.CANCELLED || code === GrpcStatus.DEADLINE_EXCEEDED) {
    return "reconnect";
  }
  if (
    code === GrpcStatus.UNAVAILABLE &&
    (details.includes("transport is closing") || details.includes("received prior goaway"))
  ) {
    return "reconnect";
  }
  return "error";
}

export class ReconnectBackoff {
  #current: number;

  constructor(readonly initialMs: number = INITIAL_BACKOFF_MS, readonly maxMs: number = MAX_BACKOFF_MS) {
    this.#current = initialMs;
  }

  /** The backoff the next error doubles. */
  get current(): number {
    return this.#current;
  }

  /** The delay before reconnecting after a stream ended like `end`; updates the state. */
  next(end: StreamEnd): number {
    if (end === "error") {
      this.#current = Math.min(this.maxMs, this.#current * 2);
      return this.#current;
    }
    this.#current = this.initialMs;
    return this.initialMs;
  }

  /** After a successful response: the next error starts from the initial backoff again. */
  reset(): void {
    this.#current = this.initialMs;
  }
}
