/** HTTP/2 protocol errors (RFC 9113 §5.4), carrying the error code to put on the wire. */
import { ZtError } from "../../error.ts";

/** ErrorCode.ENHANCE_YOUR_CALM (frame.ts imports this file, so the value is repeated here). */
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
 * A header block decoded fine but its list exceeds our SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §10.5.1).
 * The HPACK dynamic table is still consistent, so the connection may continue: the session can answer
 * with a stream error (or a 431) instead of tearing the connection down.
 */
export class HeaderListTooLargeError extends H2Error {
  constructor(readonly size: number, readonly limit: number, streamId = 0) {
    super(`header list size ${size} exceeds limit ${limit}`, ENHANCE_YOUR_CALM, streamId);
  }
}
