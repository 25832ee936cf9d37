/** HTTP/2 protocol errors (RFC 9113 §5.4), carrying the error code to put on the wire. */
import { ZtError } from "../../error.ts";

/** ErrorCode values (frame.ts imports this file, so the ones used here are repeated). */
const FLOW_CONTROL_ERROR = 0x3;
const CANCEL = 0x8;
const ENHANCE_YOUR_CALM = 0xb;

export class H2Error extends ZtError {
  /**
   * @param code an HTTP/2 error code (see `ErrorCode` in frame.ts)
   * @param streamId the stream the error is confined to; 0 means a connection error
   */
  constructor(message: string, readonly code: number, readonly streamId: number = 0, options?: ErrorOptions) {
    super("h2", message, options);
  }
}

/**
 * Why a session dropped its peer: the label of `zt_rejected_connections_total{listener="hbone",kind}`.
 * - `protocol`: an RFC 9113 / 7541 violation answered with GOAWAY (bad frame, bad state, bad HPACK).
 * - `flow_control`: DATA past the window we advertised, or a window pushed past 2^31-1.
 * - `header_block_too_large` / `continuation_flood`: a header block over its byte or CONTINUATION cap.
 * - `header_list_too_large`: a decoded header list over SETTINGS_MAX_HEADER_LIST_SIZE.
 * - `rapid_reset`: too many streams reset by the peer before we answered them.
 * - `stream_error_flood`: too many streams we had to reset for the peer's errors.
 * - `small_data_flood`: DATA cut into too many tiny frames (the DATA-frame budget ran out).
 * - `glitch_flood`: too many frames that make no progress (PING, SETTINGS, PRIORITY, unknown types,
 *   empty DATA, tiny WINDOW_UPDATEs, HPACK table size updates, refused or instantly reset streams).
 * - `ack_flood`: too many PING / SETTINGS acknowledgements owed to a peer that does not read.
 * - `write_flood`: too many replies queued for a peer that does not read.
 * - `preface_timeout`: no connection preface / first SETTINGS in time.
 * - `keepalive_timeout`: a PING went unanswered.
 */
export type H2ViolationKind =
  | "protocol"
  | "flow_control"
  | "header_block_too_large"
  | "continuation_flood"
  | "header_list_too_large"
  | "rapid_reset"
  | "stream_error_flood"
  | "small_data_flood"
  | "glitch_flood"
  | "ack_flood"
  | "write_flood"
  | "preface_timeout"
  | "keepalive_timeout";

/** A connection error for one of the limits: ENHANCE_YOUR_CALM unless a code is given. */
export class H2Violation extends H2Error {
  constructor(readonly violation: H2ViolationKind, message: string, code: number = ENHANCE_YOUR_CALM) {
    super(message, code, 0);
  }
}

/** The kind a connection error is counted as: its own for a limit, else by its code. */
export function violationKind(err: H2Error): H2ViolationKind {
  if (err instanceof H2Violation) return err.violation;
  return err.code === FLOW_CONTROL_ERROR ? "flow_control" : "protocol";
}

/**
 * A header block decoded to a list larger than our SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §10.5.1).
 * Decoding stopped at once, so the HPACK dynamic table is no longer in step with the peer's: a
 * connection error (GOAWAY ENHANCE_YOUR_CALM).
 */
export class HeaderListTooLargeError extends H2Violation {
  constructor(readonly size: number, readonly limit: number) {
    super("header_list_too_large", `header list size over ${limit} (at least ${size})`);
  }
}

/** A client request whose response headers did not come in time: the stream was reset (CANCEL). */
export class H2ResponseTimeoutError extends H2Error {
  constructor(readonly timeoutMs: number, streamId: number) {
    super(`no response within ${timeoutMs} ms`, CANCEL, streamId);
  }
}
