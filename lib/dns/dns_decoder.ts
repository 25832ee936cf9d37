/**
 * Decodes DNS messages from the wire. Hostile input is expected: every read is bounds-checked,
 * compression pointers may only point backwards (no loops), names stay within 255 bytes, and a
 * failure is a DnsWireError naming the part that was bad — never an exception from deep inside.
 */
import { labelText, MAX_NAME_LENGTH } from "./dns_name.ts";
import {
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
  DnsWireError,
  type Edns,
  RType,
} from "./dns_types.ts";

export const HEADER_SIZE = 12;

/** A copy of bytes `a..b` as a plain Uint8Array (Buffer's slice would be a view of the packet). */
function copy(buf: Uint8Array, a: number, b: number): Uint8Array {
  return Uint8Array.prototype.slice.call(buf, a, b);
}

/** A name at `offset`: its text and where the bytes after it start (pointers followed). */
export function readName(buf: Uint8Array, offset: number): { name: string; next: number } {
  let pos = offset;
  let next = -1;
  let total = 1;
  let limit = offset; // a pointer must point before the label run that contains it
  let name = "";
  for (;;) {
    if (pos >= buf.length) throw new DnsWireError("name", "runs past the end of the message");
    const len = buf[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsWireError("name", "truncated compression pointer");
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      if (target >= limit) throw new DnsWireError("name", "compression pointer does not point backwards");
      if (next < 0) next = pos + 2;
      pos = limit = target;
      continue;
    }
    if (kind !== 0) throw new DnsWireError("name", `unsupported label type 0x${len.toString(16)}`);
    if (pos + 1 + len > buf.length) throw new DnsWireError("name", "label runs past the end of the message");
    total += len + 1;
    if (total > MAX_NAME_LENGTH) throw new DnsWireError("name", "name over 255 bytes");
    const label = labelText(buf, pos + 1, pos + 1 + len);
    name = name === "" ? label : `${name}.${label}`;
    pos += len + 1;
  }
  return { name, next };
}

/** Name-bearing record types whose embedded names may be compressed (RFC 3597 §4, plus SRV, KX). */
const NAME_LAYOUT: Record<number, readonly ("name" | 2 | 6 | 20)[]> = {
  2: ["name"], // NS
  3: ["name"], // MD
  4: ["name"], // MF
  5: ["name"], // CNAME
  6: ["name", "name", 20], // SOA
  7: ["name"], // MB
  8: ["name"], // MG
  9: ["name"], // MR
  12: ["name"], // PTR
  14: ["name", "name"], // MINFO
  15: [2, "name"], // MX
  17: ["name", "name"], // RP
  18: [2, "name"], // AFSDB
  33: [6, "name"], // SRV
  36: [2, "name"], // KX
  39: ["name"], // DNAME
};

/** RDATA with embedded names expanded (so it stands alone outside this message). */
function readRdata(buf: Uint8Array, type: number, start: number, end: number): Uint8Array {
  const layout = NAME_LAYOUT[type];
  if (!layout) return copy(buf, start, end);
  const parts: Uint8Array[] = [];
  let pos = start;
  for (const item of layout) {
    if (item === "name") {
      const { next } = readName(buf, pos);
      if (next > end) throw new DnsWireError("record", "name runs past its RDATA");
      parts.push(nameBytes(buf, pos));
      pos = next;
    } else {
      if (pos + item > end) throw new DnsWireError("record", "RDATA too short");
      parts.push(copy(buf, pos, pos + item));
      pos += item;
    }
  }
  if (pos !== end) throw new DnsWireError("record", "RDATA length does not match its contents");
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The uncompressed wire bytes of the (possibly compressed) name at `offset`. */
function nameBytes(buf: Uint8Array, offset: number): Uint8Array {
  const out: number[] = [];
  let pos = offset;
  for (;;) {
    const len = buf[pos];
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      pos = ((len & 0x3f) << 8) | buf[pos + 1];
      continue;
    }
    for (let i = pos; i <= pos + len; i++) out.push(buf[i]);
    pos += len + 1;
  }
  out.push(0);
  return Uint8Array.from(out);
}

function u16(buf: Uint8Array, o: number): number {
  return (buf[o] << 8) | buf[o + 1];
}

function u32(buf: Uint8Array, o: number): number {
  return ((buf[o] << 24) >>> 0) + ((buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]);
}

export interface DecodedHeader {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  readonly rcode: number;
  readonly qdcount: number;
  readonly ancount: number;
  readonly nscount: number;
  readonly arcount: number;
}

/** The fixed 12-byte header; throws when the packet is shorter. */
export function decodeHeader(buf: Uint8Array): DecodedHeader {
  if (buf.length < HEADER_SIZE) throw new DnsWireError("header", `${buf.length} bytes, need 12`);
  const f = u16(buf, 2);
  return {
    id: u16(buf, 0),
    qr: (f & 0x8000) !== 0,
    opcode: (f >> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0xf,
    qdcount: u16(buf, 4),
    ancount: u16(buf, 6),
    nscount: u16(buf, 8),
    arcount: u16(buf, 10),
  };
}

function readQuestion(buf: Uint8Array, pos: number): { q: DnsQuestion; next: number } {
  const { name, next } = readName(buf, pos);
  if (next + 4 > buf.length) throw new DnsWireError("question", "truncated question");
  return { q: { name, type: u16(buf, next), class: u16(buf, next + 2) }, next: next + 4 };
}

function readRecord(buf: Uint8Array, pos: number): { r: DnsRecord; next: number } {
  const { name, next } = readName(buf, pos);
  if (next + 10 > buf.length) throw new DnsWireError("record", "truncated record header");
  const type = u16(buf, next);
  const rdlen = u16(buf, next + 8);
  const start = next + 10;
  if (start + rdlen > buf.length) throw new DnsWireError("record", "RDATA runs past the end of the message");
  const r = {
    name,
    type,
    class: u16(buf, next + 2),
    ttl: u32(buf, next + 4),
    data: readRdata(buf, type, start, start + rdlen),
  };
  return { r, next: start + rdlen };
}

/** A whole message. Trailing bytes after the last counted record are ignored. */
export function decodeMessage(buf: Uint8Array): DnsMessage {
  const h = decodeHeader(buf);
  let pos = HEADER_SIZE;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < h.qdcount; i++) {
    const { q, next } = readQuestion(buf, pos);
    questions.push(q);
    pos = next;
  }
  const sections: DnsRecord[][] = [[], [], []];
  const counts = [h.ancount, h.nscount, h.arcount];
  let edns: Edns | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]; i++) {
      const { r, next } = readRecord(buf, pos);
      pos = next;
      if (r.type === RType.OPT) {
        if (s !== 2 || edns || r.name !== "") {
          throw new DnsWireError("edns", "misplaced or repeated OPT record");
        }
        edns = {
          udpSize: r.class,
          extendedRcode: r.ttl >>> 24,
          version: (r.ttl >>> 16) & 0xff,
          dnssecOk: (r.ttl & 0x8000) !== 0,
        };
      } else sections[s].push(r);
    }
  }
  const { qdcount: _q, ancount: _a, nscount: _n, arcount: _r, ...flags } = h;
  return {
    ...flags,
    questions,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
    edns,
  };
}
