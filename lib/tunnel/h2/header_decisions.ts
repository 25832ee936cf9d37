/**
 * What a complete header block means, decided from the stream's state (RFC 9113 §5.1, §8.1): a new
 * request, a response (or an informational one), trailers, a stream error, or nothing to do. Pure:
 * connection errors are thrown as H2Error, everything else is returned as plain data for the session
 * to act on.
 */
import { ErrorCode } from "./frame.ts";
import { H2Error } from "./h2_error.ts";
import { checkRequest, checkResponse, checkTrailers } from "./message_checks.ts";
import type { Headers } from "./stream.ts";
import type { StreamIds } from "./stream_ids.ts";

export type HeaderDecision =
  | { readonly kind: "open"; readonly contentLength: number | undefined }
  | { readonly kind: "response"; readonly contentLength: number | undefined }
  | { readonly kind: "informational" }
  | { readonly kind: "trailers" }
  /** A frame that raced our reset of its stream: ignored (a zero-progress frame). */
  | { readonly kind: "ignore" }
  /** Over the concurrent-stream limit, or going away. */
  | { readonly kind: "refuse" }
  | { readonly kind: "stream_error"; readonly code: number; readonly why: string };

/** The state a block on a stream not open is judged by. */
export interface NewStreamContext {
  readonly ids: StreamIds;
  readonly goingAway: boolean;
  readonly openStreams: number;
  readonly maxConcurrentStreams: number;
}

const malformed = (why: string): HeaderDecision => ({
  kind: "stream_error",
  code: ErrorCode.PROTOCOL_ERROR,
  why,
});

/** A block on a stream that is not open: a new request (server), or late / illegal. */
export function decideNewStream(
  ctx: NewStreamContext,
  id: number,
  headers: Headers,
  endStream: boolean,
  dependsOn: number | undefined,
): HeaderDecision {
  const ids = ctx.ids;
  if (!ids.isPeerId(id)) {
    if (ids.role === "client" && !ids.isIdle(id)) return { kind: "ignore" }; // a response after our reset
    throw new H2Error(`HEADERS on stream ${id}, which the peer may not open`, ErrorCode.PROTOCOL_ERROR);
  }
  if (!ids.isIdle(id)) {
    if (ids.wasReset(id)) return { kind: "ignore" };
    if (ids.wasClosed(id)) throw new H2Error(`HEADERS on closed stream ${id}`, ErrorCode.STREAM_CLOSED);
    throw new H2Error(`stream id ${id} not above ${ids.lastPeer}`, ErrorCode.PROTOCOL_ERROR);
  }
  if (dependsOn === id) return malformed("stream depends on itself");
  const check = checkRequest(headers);
  if (!check.ok) return malformed(`malformed request: ${check.reason}`);
  if (endStream && (check.contentLength ?? 0) > 0) return malformed("content-length without DATA");
  if (ctx.goingAway || ctx.openStreams >= ctx.maxConcurrentStreams) return { kind: "refuse" };
  return { kind: "open", contentLength: check.contentLength };
}

/** The state of an open stream a block is judged by. */
export interface OpenStreamState {
  readonly awaitingResponse: boolean;
  readonly remoteEnded: boolean;
  readonly contentLength: number | undefined;
  readonly dataReceived: number;
}

/** A block on an open stream: the response a client awaits (1xx first), or trailers. */
export function decideOnOpen(s: OpenStreamState, headers: Headers, endStream: boolean): HeaderDecision {
  if (s.awaitingResponse) {
    const c = checkResponse(headers);
    if (!c.ok) return malformed(`malformed response: ${c.reason}`);
    if (c.status! >= 200) return { kind: "response", contentLength: c.contentLength };
    return endStream ? malformed("1xx response with END_STREAM") : { kind: "informational" };
  }
  if (s.remoteEnded) {
    return { kind: "stream_error", code: ErrorCode.STREAM_CLOSED, why: "HEADERS after END_STREAM" };
  }
  if (!endStream) return malformed("second HEADERS without END_STREAM");
  const c = checkTrailers(headers);
  if (!c.ok) return malformed(`malformed trailers: ${c.reason}`);
  if (s.contentLength !== undefined && s.dataReceived !== s.contentLength) {
    return malformed("DATA does not match content-length");
  }
  return { kind: "trailers" };
}
