/**
 * The little DER zt needs for X.509: an encoder for the few ASN.1 types certificates and CSRs use,
 * and a reader that walks TLVs without interpreting them. Malformed input throws ZtError("der").
 */
import { ZtError } from "../error.ts";

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

type Bytes = Uint8Array<ArrayBuffer>;

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One TLV with a single-byte tag (all zt needs) and a definite, minimal length. */
export function tlv(tag: number, ...content: Uint8Array[]): Bytes {
  const body = content.length === 1 ? content[0] : concat(...content);
  const n = body.length;
  let head: number[];
  if (n < 0x80) head = [tag, n];
  else {
    const len: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
    head = [tag, 0x80 | len.length, ...len];
  }
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(body, head.length);
  return out;
}

export const seq = (...items: Uint8Array[]): Bytes => tlv(TAG.SEQUENCE, ...items);
export const set = (...items: Uint8Array[]): Bytes => tlv(TAG.SET, ...items);
export const octets = (b: Uint8Array): Bytes => tlv(TAG.OCTET_STRING, b);
export const nul = (): Bytes => tlv(TAG.NULL);
export const bool = (v: boolean): Bytes => tlv(TAG.BOOLEAN, Uint8Array.of(v ? 0xff : 0));
/** A BIT STRING of whole bytes (keys, signatures). */
export const bits = (b: Uint8Array, unused = 0): Bytes => tlv(TAG.BIT_STRING, Uint8Array.of(unused), b);
/** Context-specific tag `[n]`, constructed (EXPLICIT or IMPLICIT over a constructed type). */
export const explicit = (n: number, ...content: Uint8Array[]): Bytes => tlv(0xa0 | n, ...content);
/** Context-specific tag `[n]`, primitive (IMPLICIT over a primitive type). */
export const implicit = (n: number, content: Uint8Array): Bytes => tlv(0x80 | n, content);

/** An INTEGER from an unsigned big-endian magnitude: minimal, with a 0x00 pad when the top bit is set. */
export function uint(magnitude: Uint8Array): Bytes {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return tlv(TAG.INTEGER, Uint8Array.of(0));
  return m[0] & 0x80 ? tlv(TAG.INTEGER, Uint8Array.of(0), m) : tlv(TAG.INTEGER, m);
}

/** A small non-negative INTEGER. */
export function smallInt(n: number): Bytes {
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return uint(Uint8Array.from(b));
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Bytes {
  const arcs = dotted.split(".").map((a) => BigInt(a));
  const out: number[] = [];
  const push = (v: bigint) => {
    const chunk = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0] * 40n + arcs[1]);
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.OID, Uint8Array.from(out));
}

const enc = new TextEncoder();
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
export const ia5 = (s: string): Bytes => tlv(TAG.IA5_STRING, enc.encode(s));
/** PrintableString when the text allows it, else UTF8String. */
export const dirString = (s: string): Bytes =>
  tlv(PRINTABLE.test(s) ? TAG.PRINTABLE_STRING : TAG.UTF8_STRING, enc.encode(s));

/** RFC 5280 Time: UTCTime up to 2049, GeneralizedTime from 2050; seconds precision (ms dropped). */
export function time(d: Date): Bytes {
  const iso = new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new ZtError("der", `cannot encode year ${year} as an X.509 time`);
  return year < 2050
    ? tlv(TAG.UTC_TIME, enc.encode(digits.slice(2)))
    : tlv(TAG.GENERALIZED_TIME, enc.encode(digits));
}

/** One decoded TLV: `tag`, the whole encoding (`der`) and the value (`content`), both views of the input. */
export interface DerNode {
  tag: number;
  der: Bytes;
  content: Bytes;
}

/** Reads the TLV starting at `at`. Throws ZtError("der") when it is truncated or not DER-shaped. */
export function readNode(buf: Bytes, at = 0): DerNode {
  const fail = (why: string): never => {
    throw new ZtError("der", `${why} at offset ${at}`);
  };
  if (at + 2 > buf.length) fail("truncated TLV");
  const tag = buf[at];
  if ((tag & 0x1f) === 0x1f) fail("multi-byte tags are not supported");
  let len = buf[at + 1];
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) fail("unsupported length encoding");
    if (at + 2 + n > buf.length) fail("truncated length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
    head += n;
  }
  const end = at + head + len;
  if (end > buf.length) fail("value runs past the end of its container");
  return { tag, der: buf.subarray(at, end), content: buf.subarray(at + head, end) };
}

/** The TLVs inside a constructed node (or a whole buffer), in order. */
export function children(node: DerNode | Bytes): DerNode[] {
  const buf = node instanceof Uint8Array ? node : node.content;
  const out: DerNode[] = [];
  for (let at = 0; at < buf.length;) {
    const n = readNode(buf, at);
    out.push(n);
    at += n.der.length;
  }
  return out;
}

/** Checks a node's tag and returns it. Throws ZtError("der"). */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new ZtError("der", `${what}: missing`);
  if (node.tag !== tag) {
    throw new ZtError("der", `${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(node.tag)}`);
  }
  return node;
}

/** The dotted form of an OBJECT IDENTIFIER node. */
export function readOid(node: DerNode): string {
  const c = expectTag(node, TAG.OID, "OBJECT IDENTIFIER").content;
  const arcs: bigint[] = [];
  let v = 0n;
  for (const b of c) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0n;
    }
  }
  if (arcs.length === 0) throw new ZtError("der", "empty OBJECT IDENTIFIER");
  const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
  return [first, arcs[0] - first * 40n, ...arcs.slice(1)].join(".");
}

/** A UTCTime or GeneralizedTime node (the `YYMMDDHHMMSSZ` / `YYYYMMDDHHMMSSZ` forms DER requires). */
export function readTime(node: DerNode): Date {
  const s = new TextDecoder().decode(node.content);
  const m = node.tag === TAG.UTC_TIME
    ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s)
    : node.tag === TAG.GENERALIZED_TIME
    ? /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s)
    : null;
  if (!m) throw new ZtError("der", `not a DER time: ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (node.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  const [mo, d, h, mi, sec] = m.slice(2).map(Number);
  return new Date(Date.UTC(year, mo - 1, d, h, mi, sec));
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, hex2).join("");
}

function hex2(x: number): string {
  return x.toString(16).padStart(2, "0");
}
