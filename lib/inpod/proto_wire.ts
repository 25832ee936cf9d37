/**
 * The few proto3 wire-format primitives ZDS needs: varints, length-delimited fields and skipping
 * unknown fields. Reading never throws: every failure is a `WireError` value with a stable reason.
 */

/** Why bytes are not a valid proto3 message. */
export type WireErrorReason =
  | "truncated" // a varint or a length runs past the end
  | "varint_overflow" // more than 10 bytes, or a value past 2^53 where a length or tag is expected
  | "field_number" // field number 0
  | "wire_type" // a wire type proto3 does not use (groups, 6, 7), or the wrong one for a known field
  | "utf8"; // a string field that is not valid UTF-8

export interface WireError {
  readonly reason: WireErrorReason;
  readonly detail: string;
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;
const MAX_FIELD = 2 ** 29 - 1;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** A cursor over one message's bytes. */
export class WireReader {
  #pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.#pos >= this.bytes.length;
  }

  /** A varint as a number (exact up to 2^53; larger values are an overflow). */
  varint(): number | WireError {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.bytes.length) return err("truncated", "varint runs past the end");
      const b = this.bytes[this.#pos++];
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) {
        if (value > Number.MAX_SAFE_INTEGER) return err("varint_overflow", "varint too large");
        return value;
      }
    }
    return err("varint_overflow", "varint longer than 10 bytes");
  }

  /** A varint as an int32 field reads it (enums): the low 32 bits, signed. */
  int32(): number | WireError {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.bytes.length) return err("truncated", "varint runs past the end");
      const b = this.bytes[this.#pos++];
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return Number(BigInt.asIntN(32, value));
    }
    return err("varint_overflow", "varint longer than 10 bytes");
  }

  /** The next field's tag, or a WireError. */
  tag(): { field: number; wire: number } | WireError {
    const t = this.varint();
    if (typeof t !== "number") return t;
    const field = Math.floor(t / 8);
    if (field === 0) return err("field_number", "field number 0");
    if (field > MAX_FIELD) return err("field_number", `field number ${field} is past 2^29-1`);
    return { field, wire: t % 8 };
  }

  /** A length-delimited field's bytes (a view into the message). */
  lengthDelimited(): Uint8Array | WireError {
    const n = this.varint();
    if (typeof n !== "number") return n;
    if (n > this.bytes.length - this.#pos) return err("truncated", `length ${n} runs past the end`);
    const out = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  string(field: string): string | WireError {
    const b = this.lengthDelimited();
    if (!(b instanceof Uint8Array)) return b;
    try {
      return utf8.decode(b);
    } catch {
      return err("utf8", `${field} is not valid UTF-8`);
    }
  }

  /** Skips a field of wire type `wire` (an unknown field: proto3 ignores it). */
  skip(wire: number): WireError | undefined {
    switch (wire) {
      case WIRE_VARINT: {
        const v = this.int32();
        return typeof v === "number" ? undefined : v;
      }
      case WIRE_I64:
        return this.#advance(8);
      case WIRE_I32:
        return this.#advance(4);
      case WIRE_LEN: {
        const b = this.lengthDelimited();
        return b instanceof Uint8Array ? undefined : b;
      }
      default:
        return err("wire_type", `wire type ${wire} is not used by proto3`);
    }
  }

  #advance(n: number): WireError | undefined {
    if (this.bytes.length - this.#pos < n) return err("truncated", `fixed field runs past the end`);
    this.#pos += n;
    return undefined;
  }
}

export function err(reason: WireErrorReason, detail: string): WireError {
  return { reason, detail };
}

export function isWireError(v: unknown): v is WireError {
  return typeof v === "object" && v !== null && "reason" in v && "detail" in v;
}

/** The wire error for a known field that came with the wrong wire type. */
export function wrongWireType(field: string, wire: number): WireError {
  return err("wire_type", `${field} has wire type ${wire}`);
}

/** Builds one message: fields appended in the order written. */
export class WireWriter {
  readonly #parts: number[] = [];

  varintField(field: number, value: number): this {
    this.#varint(field * 8 + WIRE_VARINT);
    this.#varint(value);
    return this;
  }

  /** A string field; proto3 leaves empty strings out. */
  stringField(field: number, value: string): this {
    if (value === "") return this;
    return this.bytesField(field, encoder.encode(value));
  }

  /** A length-delimited field, written even when empty (a set sub-message, a oneof member). */
  bytesField(field: number, value: Uint8Array): this {
    this.#varint(field * 8 + WIRE_LEN);
    this.#varint(value.length);
    for (const b of value) this.#parts.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }

  #varint(v: number): void {
    let n = v;
    while (n >= 0x80) {
      this.#parts.push((n % 128) | 0x80);
      n = Math.floor(n / 128);
    }
    this.#parts.push(n);
  }
}
