/**
 * Reassembles a header block from HEADERS + CONTINUATION frames (RFC 9113 §4.3, §6.10), enforcing the
 * block's byte cap and CONTINUATION count cap as each frame arrives, before anything is concatenated
 * or decoded: a peer cannot make us hold more than `maxBytes` or spend work on endless empty frames.
 */
import { ErrorCode, Flag } from "./frame.ts";
import { H2Error, H2Violation } from "./h2_error.ts";

/** A complete block: the HEADERS frame's stream and flags with every fragment joined. */
export interface HeaderBlock {
  readonly streamId: number;
  /** The HEADERS frame's flags (END_STREAM, PRIORITY). */
  readonly flags: number;
  readonly block: Uint8Array;
  /** The stream this one depends on (PRIORITY flag), for the self-dependency check. */
  readonly dependsOn: number | undefined;
}

export class HeaderBlockAssembler {
  #pending: {
    streamId: number;
    flags: number;
    dependsOn: number | undefined;
    parts: Uint8Array[];
    size: number;
    frames: number;
  } | undefined;

  constructor(readonly maxBytes: number, readonly maxContinuations: number) {}

  /** A block is open: only CONTINUATION frames of its stream may come next (RFC 9113 §6.10). */
  get open(): boolean {
    return this.#pending !== undefined;
  }

  /** A HEADERS frame's payload: the complete block, or undefined while CONTINUATION frames must follow. */
  headers(streamId: number, flags: number, payload: Uint8Array): HeaderBlock | undefined {
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (payload.length < 1) {
        throw new H2Error("HEADERS too short for its padding", ErrorCode.FRAME_SIZE_ERROR);
      }
      start = 1;
      end -= payload[0];
    }
    let dependsOn: number | undefined;
    if (flags & Flag.PRIORITY) {
      if (end - start < 5) {
        throw new H2Error("HEADERS too short for its priority", ErrorCode.FRAME_SIZE_ERROR);
      }
      dependsOn = ((payload[start] & 0x7f) << 24 | payload[start + 1] << 16 | payload[start + 2] << 8 |
        payload[start + 3]) >>> 0;
      start += 5;
    }
    if (start > end) throw new H2Error("HEADERS padding exceeds the payload", ErrorCode.PROTOCOL_ERROR);
    const fragment = payload.subarray(start, end);
    this.#check(fragment.length);
    if (flags & Flag.END_HEADERS) return { streamId, flags, block: fragment, dependsOn };
    // The payload is a view of a socket chunk: keep a copy of the fragment.
    this.#pending = {
      streamId,
      flags,
      dependsOn,
      parts: [fragment.slice()],
      size: fragment.length,
      frames: 0,
    };
    return undefined;
  }

  /** A CONTINUATION frame's payload: the complete block once END_HEADERS comes. */
  continuation(streamId: number, flags: number, payload: Uint8Array): HeaderBlock | undefined {
    const p = this.#pending;
    if (p === undefined || p.streamId !== streamId) {
      throw new H2Error("CONTINUATION without an open header block on its stream", ErrorCode.PROTOCOL_ERROR);
    }
    if (++p.frames > this.maxContinuations) {
      throw new H2Violation("continuation_flood", `more than ${this.maxContinuations} CONTINUATION frames`);
    }
    this.#check(p.size + payload.length);
    p.size += payload.length;
    if (payload.length > 0) p.parts.push(payload.slice());
    if (!(flags & Flag.END_HEADERS)) return undefined;
    this.#pending = undefined;
    return { streamId, flags: p.flags, block: join(p.parts, p.size), dependsOn: p.dependsOn };
  }

  #check(size: number): void {
    if (size > this.maxBytes) {
      this.#pending = undefined;
      throw new H2Violation("header_block_too_large", `header block over ${this.maxBytes} bytes`);
    }
  }
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
