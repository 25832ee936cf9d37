/**
 * HTTP/2 session settings and limits. The five windows/sizes are what zt advertises; every other field
 * is optional, defaulting to ztunnel's (the Rust `h2` crate's) value or, where h2 has none, nghttp2's.
 */
import { MIN_MAX_FRAME_SIZE } from "./frame.ts";

export interface H2Options {
  /** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE). ztunnel: 4 MiB. */
  readonly streamWindow: number;
  /** Our receive window for the connection. ztunnel: 16 MiB. */
  readonly connectionWindow: number;
  /** Our SETTINGS_MAX_FRAME_SIZE. ztunnel: 1 MiB. */
  readonly maxFrameSize: number;
  /** Streams the peer may open towards us (server side). ztunnel: 200. */
  readonly maxConcurrentStreams: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE; a larger decoded list ends the connection. ztunnel: 64 KiB. */
  readonly maxHeaderListSize: number;

  /** Bytes of one encoded header block (HEADERS + CONTINUATION, padding excluded). Default: maxHeaderListSize. */
  readonly maxHeaderBlockSize?: number;
  /** CONTINUATION frames in one header block. Default: as h2, max(5, 1.25 × blockSize / 16 KiB). */
  readonly maxContinuationFrames?: number;
  /** Streams reset by the peer before we answered them, at once (h2's max_pending_accept_reset_streams). Default 20. */
  readonly maxPendingResetStreams?: number;
  /** Streams we reset for the peer's stream errors, over the connection's life (h2). Default 1024. */
  readonly maxLocalErrorResets?: number;
  /** h2's DATA-frame budget: a piece under 256 bytes costs 256 − size until released. Default 25,600. */
  readonly dataFrameBudget?: number;
  /**
   * Bytes of receive buffers that DATA pieces under a quarter of their buffer's size may keep alive
   * while unreleased (counted as whole buffers); past it such pieces are copied. Default 8 MiB.
   */
  readonly maxPinnedBytes?: number;
  /** Zero-progress frames allowed at once (nghttp2's glitch limiter). Default 1000. */
  readonly glitchBurst?: number;
  /** ... refilled at this rate. Default 33 per second (nghttp2). */
  readonly glitchRatePerSecond?: number;
  /** Entries in one SETTINGS frame (nghttp2's max_settings). Default 32. */
  readonly maxSettingsEntries?: number;
  /** PING / SETTINGS ACKs owed to a peer that does not read (nghttp2's max_outbound_ack). Default 1000. */
  readonly maxQueuedAcks?: number;
  /**
   * Reply bytes (ACKs, RST_STREAM, response HEADERS) queued while the socket is over its high-water
   * mark: past this, reading pauses until "drain". Default 64 KiB.
   */
  readonly replyHighWaterMark?: number;
  /** ... past this (a socket that cannot pause, or a peer that keeps going), the connection ends. Default 1 MiB. */
  readonly replyLimit?: number;
  /** Server: the client preface and SETTINGS must arrive within this; client: the server's SETTINGS. Default 10 s; 0 = off. */
  readonly prefaceTimeoutMs?: number;
  /** PING every this often (after the previous one was answered), as ztunnel. Default 10 s; 0 = off. */
  readonly keepaliveIntervalMs?: number;
  /** A PING unanswered for this long ends the connection, as ztunnel. Default 20 s. */
  readonly keepaliveTimeoutMs?: number;
}

export type H2Limits = Required<H2Options>;

export const DEFAULT_H2_OPTIONS: H2Options = {
  streamWindow: 4 * 1024 * 1024,
  connectionWindow: 16 * 1024 * 1024,
  maxFrameSize: 1024 * 1024,
  maxConcurrentStreams: 200,
  maxHeaderListSize: 64 * 1024,
};

/** Every limit, defaults filled in. */
export function resolveH2Limits(o: H2Options): H2Limits {
  const block = o.maxHeaderBlockSize ?? o.maxHeaderListSize;
  const frames = Math.max(1, Math.floor(block / MIN_MAX_FRAME_SIZE));
  return {
    ...o,
    maxHeaderBlockSize: block,
    maxContinuationFrames: o.maxContinuationFrames ?? Math.max(5, frames + (frames >> 2)),
    maxPendingResetStreams: o.maxPendingResetStreams ?? 20,
    maxLocalErrorResets: o.maxLocalErrorResets ?? 1024,
    dataFrameBudget: o.dataFrameBudget ?? 25_600,
    maxPinnedBytes: o.maxPinnedBytes ?? 8 * 1024 * 1024,
    glitchBurst: o.glitchBurst ?? 1000,
    glitchRatePerSecond: o.glitchRatePerSecond ?? 33,
    maxSettingsEntries: o.maxSettingsEntries ?? 32,
    maxQueuedAcks: o.maxQueuedAcks ?? 1000,
    replyHighWaterMark: o.replyHighWaterMark ?? 64 * 1024,
    replyLimit: o.replyLimit ?? 1024 * 1024,
    prefaceTimeoutMs: o.prefaceTimeoutMs ?? 10_000,
    keepaliveIntervalMs: o.keepaliveIntervalMs ?? 10_000,
    keepaliveTimeoutMs: o.keepaliveTimeoutMs ?? 20_000,
  };
}
