/**
 * Frame-level rules that need no stream state (RFC 9113 §6): which frames belong on stream 0 and which
 * never do, and the fixed payload sizes. Each breach is a connection error, thrown as H2Error.
 */
import { ErrorCode, Flag, FrameType } from "./frame.ts";
import { H2Error } from "./h2_error.ts";

const NAMES = [
  "DATA",
  "HEADERS",
  "PRIORITY",
  "RST_STREAM",
  "SETTINGS",
  "PUSH_PROMISE",
  "PING",
  "GOAWAY",
  "WINDOW_UPDATE",
  "CONTINUATION",
];

function protocol(why: string): never {
  throw new H2Error(why, ErrorCode.PROTOCOL_ERROR);
}
function size(type: number): never {
  throw new H2Error(`${NAMES[type]} of the wrong size`, ErrorCode.FRAME_SIZE_ERROR);
}

/** Checks a non-DATA frame's stream id and size. */
export function checkFrame(type: number, flags: number, id: number, length: number): void {
  switch (type) {
    case FrameType.HEADERS:
    case FrameType.PRIORITY:
    case FrameType.RST_STREAM:
    case FrameType.CONTINUATION:
      if (id === 0) protocol(`${NAMES[type]} on stream 0`);
      if (type === FrameType.RST_STREAM && length !== 4) size(type);
      return;
    case FrameType.SETTINGS:
      if (id !== 0) protocol("SETTINGS on a stream");
      if (flags & Flag.ACK && length !== 0) size(type);
      return;
    case FrameType.PING:
      if (id !== 0) protocol("PING on a stream");
      if (length !== 8) size(type);
      return;
    case FrameType.GOAWAY:
      if (id !== 0) protocol("GOAWAY on a stream");
      if (length < 8) size(type);
      return;
    case FrameType.WINDOW_UPDATE:
      if (length !== 4) size(type);
      return;
    case FrameType.PUSH_PROMISE:
      protocol("PUSH_PROMISE not allowed (push is disabled)");
  }
}
