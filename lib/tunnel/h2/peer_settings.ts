/**
 * SETTINGS both ways (RFC 9113 §6.5): the peer's values we obey (frame size, initial stream window,
 * concurrent streams), applied to the open streams as they change, and our INITIAL_WINDOW_SIZE as the
 * peer may assume it (the default until it acknowledges ours, if ours is smaller).
 */
import {
  CONNECTION_PREFACE,
  decodeSettings,
  encodeSettings,
  encodeWindowUpdate,
  ErrorCode,
  MAX_WINDOW_SIZE,
  Setting,
} from "./frame.ts";
import type { H2Options } from "./h2_options.ts";
import { H2Error, H2Violation } from "./h2_error.ts";
import type { H2Stream } from "./stream.ts";
import { DEFAULT_WINDOW } from "./connection_window.ts";

/** What a session sends first: the client preface, our SETTINGS, the connection window raised to ours. */
export function openingFrames(role: "client" | "server", opts: H2Options): Uint8Array {
  const settings: Array<[number, number]> = [
    [Setting.ENABLE_PUSH, 0],
    [Setting.INITIAL_WINDOW_SIZE, opts.streamWindow],
    [Setting.MAX_FRAME_SIZE, opts.maxFrameSize],
    [Setting.MAX_HEADER_LIST_SIZE, opts.maxHeaderListSize],
  ];
  if (role === "server") settings.push([Setting.MAX_CONCURRENT_STREAMS, opts.maxConcurrentStreams]);
  const parts = [encodeSettings(settings)];
  if (role === "client") parts.unshift(CONNECTION_PREFACE);
  if (opts.connectionWindow > DEFAULT_WINDOW) {
    parts.push(encodeWindowUpdate(0, opts.connectionWindow - DEFAULT_WINDOW));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export class PeerSettings {
  maxFrameSize = 16384;
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: each new stream's send window. */
  initialWindow = DEFAULT_WINDOW;
  maxConcurrentStreams = Infinity;
  /** Each new stream's receive window as the peer may assume it. */
  recvInitialWindow: number;
  #unacked = 1;
  #received = 0;

  constructor(
    readonly role: "client" | "server",
    readonly ourStreamWindow: number,
    readonly maxEntries: number,
  ) {
    this.recvInitialWindow = Math.max(DEFAULT_WINDOW, ourStreamWindow);
  }

  /** No SETTINGS from the peer yet (its first frame must be one). */
  get awaitingFirst(): boolean {
    return this.#received === 0;
  }

  /** A SETTINGS frame from the peer (not an ACK): validated, then applied to `streams`. */
  apply(payload: Uint8Array, streams: Iterable<H2Stream>): void {
    const settings = decodeSettings(payload);
    if (settings.length > this.maxEntries) {
      throw new H2Violation("glitch_flood", `SETTINGS with ${settings.length} entries`);
    }
    this.#received++;
    for (const [key, value] of settings) {
      if (key === Setting.INITIAL_WINDOW_SIZE) this.#initialWindow(value, [...streams]);
      else if (key === Setting.MAX_FRAME_SIZE) this.maxFrameSize = value;
      else if (key === Setting.MAX_CONCURRENT_STREAMS) this.maxConcurrentStreams = value;
      else if (key === Setting.ENABLE_PUSH && value === 1 && this.role === "client") {
        throw new H2Error("a server must not enable push", ErrorCode.PROTOCOL_ERROR);
      }
    }
  }

  /** The peer acknowledged our SETTINGS; false when we had none outstanding. */
  acked(streams: Iterable<H2Stream>): boolean {
    if (this.#unacked === 0) return false;
    this.#unacked--;
    // The peer now uses our INITIAL_WINDOW_SIZE; below the default it shrinks the open streams' windows.
    const delta = this.ourStreamWindow - this.recvInitialWindow;
    this.recvInitialWindow = this.ourStreamWindow;
    if (delta !== 0) { for (const s of streams) s.recvWindow += delta; }
    return true;
  }

  #initialWindow(value: number, streams: H2Stream[]): void {
    const delta = value - this.initialWindow;
    if (streams.some((s) => s.sendWindow + delta > MAX_WINDOW_SIZE)) {
      throw new H2Violation(
        "flow_control",
        "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
        ErrorCode.FLOW_CONTROL_ERROR,
      );
    }
    this.initialWindow = value;
    for (const s of streams) {
      s.sendWindow += delta;
      s.wakeWriter();
    }
  }
}
