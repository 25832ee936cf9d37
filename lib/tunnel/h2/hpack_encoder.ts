/**
 * HPACK header block encoder (RFC 7541) that never touches the dynamic table (so it never needs the
 * peer's table size updates): a fully indexed static entry when name and value match one, else a
 * literal without indexing, with the static name index when there is one. No Huffman coding.
 */
import { H2Error } from "./h2_error.ts";
import { STATIC_BY_NAME } from "./hpack_static_table.ts";

const INTERNAL_ERROR = 2;
/** Worst-case bytes per header besides name and value: representation byte and two lengths. */
const MAX_OVERHEAD = 1 + 5 + 5;

export class HpackEncoder {
  /**
   * Encodes headers in order. Names must be lowercase; names and values must be latin1 (chars up to
   * U+00FF). Throws H2Error(INTERNAL_ERROR) otherwise.
   */
  encode(headers: ReadonlyArray<readonly [string, string]>): Uint8Array {
    let max = 0;
    for (let i = 0; i < headers.length; i++) {
      max += headers[i][0].length + headers[i][1].length + MAX_OVERHEAD;
    }
    const buf = new Uint8Array(max);
    let o = 0;
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i][0];
      const value = headers[i][1];
      const entry = STATIC_BY_NAME.get(name);
      if (entry) {
        const full = entry.values.get(value);
        if (full !== undefined) {
          o = writeInteger(buf, o, 0x80, 7, full); // indexed header field
          continue;
        }
        o = writeInteger(buf, o, 0x00, 4, entry.index); // literal without indexing, indexed name
      } else {
        buf[o++] = 0x00; // literal without indexing, new name
        o = writeInteger(buf, o, 0x00, 7, name.length);
        o = writeName(buf, o, name);
      }
      o = writeInteger(buf, o, 0x00, 7, value.length);
      o = writeValue(buf, o, value);
    }
    return buf.subarray(0, o);
  }
}

/** Writes `v` with an N-bit prefix (§5.1); `pattern` holds the representation bits above the prefix. */
function writeInteger(buf: Uint8Array, o: number, pattern: number, prefixBits: number, v: number): number {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    buf[o++] = pattern | v;
    return o;
  }
  buf[o++] = pattern | max;
  v -= max;
  while (v >= 0x80) {
    buf[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[o++] = v;
  return o;
}

function writeName(buf: Uint8Array, o: number, name: string): number {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c > 0xff) {
      throw new H2Error(`header name ${JSON.stringify(name)} is not lowercase latin1`, INTERNAL_ERROR);
    }
    buf[o++] = c;
  }
  return o;
}

function writeValue(buf: Uint8Array, o: number, value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff) throw new H2Error(`header value ${JSON.stringify(value)} is not latin1`, INTERNAL_ERROR);
    buf[o++] = c;
  }
  return o;
}
