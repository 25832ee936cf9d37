/**
 * Incremental HTTP/2 frame parser (RFC 9113 §4.1), fed with arbitrary socket read chunks.
 *
 * Zero copy where possible: a non-DATA frame lying wholly inside one chunk is handed over as a
 * subarray of it; only frames split across chunks are reassembled. DATA payload is never buffered:
 * each piece is delivered as soon as it arrives, as a view of the chunk it came in.
 */
import {
  CONNECTION_PREFACE,
  ErrorCode,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  MIN_MAX_FRAME_SIZE,
} from "./frame.ts";
import { H2Error } from "./h2_error.ts";

export interface FrameHandler {
  /** A non-DATA frame, payload complete (a view; valid only during the call). HEADERS+CONTINUATION are NOT merged here. */
  onFrame(type: number, flags: number, streamId: number, payload: Uint8Array): void;
  /**
   * DATA payload, delivered as it arrives: possibly several calls per frame, at least one. `endStream`
   * only on the last piece of a frame with END_STREAM. `flowBytes` = how many flow-controlled bytes this
   * call accounts for; over the calls of one frame they sum to the frame's length (pad length byte and
   * padding included), so `flowBytes - data.length` is padding. Views may be kept: chunks given to
   * push() are never reused or mutated. `last`: this is the frame's final piece.
   */
  onData(streamId: number, data: Uint8Array, endStream: boolean, flowBytes: number, last: boolean): void;
}

const EMPTY = new Uint8Array(0);
/** Split control frames up to this size are reassembled in one reused buffer. */
const SCRATCH_SIZE = MIN_MAX_FRAME_SIZE;

const PREFACE = 0;
const HEADER = 1;
const PAYLOAD = 2;
const DATA_PAD_LENGTH = 3;
const DATA = 4;

export class FrameParser {
  /** Our SETTINGS_MAX_FRAME_SIZE: longer frames are a FRAME_SIZE_ERROR. */
  maxFrameSize: number;
  #handler: FrameHandler;
  #state = HEADER;
  #prefaceOffset = 0;
  /** A frame header split across chunks. */
  #header = new Uint8Array(FRAME_HEADER_SIZE);
  #headerLength = 0;
  #length = 0;
  #type = 0;
  #flags = 0;
  #streamId = 0;
  /** A split non-DATA payload being reassembled. */
  #payload: Uint8Array = EMPTY;
  #payloadLength = 0;
  #scratch?: Uint8Array;
  /** DATA: payload bytes and padding bytes still to come; flow bytes consumed but not yet reported. */
  #dataLeft = 0;
  #padLeft = 0;
  #pendingFlow = 0;
  #error: unknown = undefined;

  constructor(handler: FrameHandler, maxFrameSize: number = MIN_MAX_FRAME_SIZE) {
    this.#handler = handler;
    this.maxFrameSize = maxFrameSize;
  }

  /** Expect the 24-byte client connection preface before the first frame (server side). Call before push(). */
  expectPreface(): void {
    this.#state = PREFACE;
    this.#prefaceOffset = 0;
  }

  /**
   * Feeds bytes. Throws H2Error (connection errors) on a bad preface, a frame longer than maxFrameSize
   * or malformed DATA padding. Any throw, including one from the handler, leaves the parser failed:
   * later calls rethrow the same error.
   */
  push(chunk: Uint8Array): void {
    if (this.#error !== undefined) throw this.#error;
    try {
      this.#consume(chunk);
    } catch (e) {
      this.#error = e;
      throw e;
    }
  }

  #consume(chunk: Uint8Array): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      switch (this.#state) {
        case HEADER: {
          if (this.#headerLength === 0 && end - pos >= FRAME_HEADER_SIZE) {
            this.#readHeader(chunk, pos);
            pos += FRAME_HEADER_SIZE;
          } else {
            const take = Math.min(FRAME_HEADER_SIZE - this.#headerLength, end - pos);
            this.#header.set(chunk.subarray(pos, pos + take), this.#headerLength);
            this.#headerLength += take;
            pos += take;
            if (this.#headerLength < FRAME_HEADER_SIZE) return;
            this.#headerLength = 0;
            this.#readHeader(this.#header, 0);
          }
          const length = this.#length;
          if (this.#type === FrameType.DATA) {
            this.#beginData();
          } else if (end - pos >= length) {
            // Whole frame in this chunk: zero copy.
            const payload = length === 0 ? EMPTY : chunk.subarray(pos, pos + length);
            pos += length;
            this.#handler.onFrame(this.#type, this.#flags, this.#streamId, payload);
          } else {
            this.#payload = length <= SCRATCH_SIZE
              ? (this.#scratch ??= new Uint8Array(SCRATCH_SIZE))
              : new Uint8Array(length);
            this.#payloadLength = 0;
            this.#state = PAYLOAD;
          }
          break;
        }
        case PAYLOAD: {
          const take = Math.min(this.#length - this.#payloadLength, end - pos);
          this.#payload.set(chunk.subarray(pos, pos + take), this.#payloadLength);
          this.#payloadLength += take;
          pos += take;
          if (this.#payloadLength === this.#length) {
            const payload = this.#payload.subarray(0, this.#length);
            this.#payload = EMPTY;
            this.#state = HEADER;
            this.#handler.onFrame(this.#type, this.#flags, this.#streamId, payload);
          }
          break;
        }
        case DATA_PAD_LENGTH: {
          const padLength = chunk[pos++];
          if (padLength >= this.#length) {
            throw new H2Error(
              `DATA padding ${padLength} exceeds payload length ${this.#length}`,
              ErrorCode.PROTOCOL_ERROR,
            );
          }
          this.#dataLeft = this.#length - 1 - padLength;
          this.#padLeft = padLength;
          this.#pendingFlow = 1;
          this.#state = DATA;
          if (this.#length === 1) this.#endData(EMPTY);
          break;
        }
        case DATA:
          pos = this.#data(chunk, pos, end);
          break;
        case PREFACE:
          pos = this.#preface(chunk, pos, end);
          break;
      }
    }
  }

  #readHeader(b: Uint8Array, o: number): void {
    const length = (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
    this.#type = b[o + 3];
    this.#flags = b[o + 4];
    this.#streamId = ((b[o + 5] & 0x7f) << 24) | (b[o + 6] << 16) | (b[o + 7] << 8) | b[o + 8];
    if (length > this.maxFrameSize) {
      throw new H2Error(
        `frame of ${length} bytes (type ${this.#type}) exceeds max frame size ${this.maxFrameSize}`,
        ErrorCode.FRAME_SIZE_ERROR,
      );
    }
    this.#length = length;
  }

  #beginData(): void {
    this.#pendingFlow = 0;
    if (this.#flags & Flag.PADDED) {
      if (this.#length === 0) {
        throw new H2Error("padded DATA frame without pad length", ErrorCode.FRAME_SIZE_ERROR);
      }
      this.#state = DATA_PAD_LENGTH;
      return;
    }
    this.#dataLeft = this.#length;
    this.#padLeft = 0;
    this.#state = DATA;
    if (this.#length === 0) this.#endData(EMPTY);
  }

  /** Delivers the final piece of the current DATA frame with all unreported flow bytes. */
  #endData(piece: Uint8Array): void {
    const flow = this.#pendingFlow;
    this.#pendingFlow = 0;
    this.#state = HEADER;
    this.#handler.onData(this.#streamId, piece, (this.#flags & Flag.END_STREAM) !== 0, flow, true);
  }

  #data(chunk: Uint8Array, pos: number, end: number): number {
    const avail = end - pos;
    const take = this.#dataLeft < avail ? this.#dataLeft : avail;
    const piece = take === 0 ? EMPTY : chunk.subarray(pos, pos + take);
    pos += take;
    this.#dataLeft -= take;
    this.#pendingFlow += take;
    if (this.#dataLeft === 0 && this.#padLeft > 0) {
      const padTake = Math.min(this.#padLeft, end - pos);
      pos += padTake;
      this.#padLeft -= padTake;
      this.#pendingFlow += padTake;
    }
    if (this.#dataLeft === 0 && this.#padLeft === 0) {
      this.#endData(piece);
    } else if (take > 0) {
      const flow = this.#pendingFlow;
      this.#pendingFlow = 0;
      this.#handler.onData(this.#streamId, piece, false, flow, false);
    }
    return pos;
  }

  #preface(chunk: Uint8Array, pos: number, end: number): number {
    let i = this.#prefaceOffset;
    while (pos < end && i < CONNECTION_PREFACE.length) {
      if (chunk[pos] !== CONNECTION_PREFACE[i]) {
        throw new H2Error("invalid HTTP/2 connection preface", ErrorCode.PROTOCOL_ERROR);
      }
      pos++;
      i++;
    }
    this.#prefaceOffset = i;
    if (i === CONNECTION_PREFACE.length) this.#state = HEADER;
    return pos;
  }
}
