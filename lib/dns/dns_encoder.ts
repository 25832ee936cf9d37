/**
 * Writes DNS messages: owner and question names compressed (RFC 1035 §4.1.4) against earlier names of
 * the same bytes, case included (a name is never given another name's case), record data as given.
 * With a size limit (a UDP client's: 512, or its EDNS payload size), records are written while they fit
 * and the rest dropped: TC=1 when an answer or authority record was dropped (RFC 2181 §9: not for
 * additional data); the OPT record always fits, its room is kept aside.
 */
import { labelText, MAX_LABEL_LENGTH, nameLabels } from "./dns_name.ts";
import { type DnsMessage, type DnsRecord, DnsWireError, RType } from "./dns_types.ts";

export const MAX_MESSAGE_SIZE = 65535;
const OPT_SIZE = 11;

class Overflow extends Error {}

class Writer {
  readonly buf: Uint8Array;
  pos = 0;
  /** name suffix (exact bytes, so the case of every name is kept) → offset of its first label. */
  readonly #names = new Map<string, number>();

  constructor(readonly limit: number, capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  #room(n: number): void {
    if (this.pos + n > this.limit) throw new Overflow();
  }

  u8(v: number): void {
    this.#room(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.#room(2);
    this.buf[this.pos++] = v >> 8;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number): void {
    this.u16((v >>> 16) & 0xffff);
    this.u16(v & 0xffff);
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A name, compressed against the names written so far; the suffix keys it added go to `added`. */
  name(name: string, added: string[]): void {
    if (name === "") return this.u8(0);
    if (name.includes("\\")) return this.#escapedName(name, added);
    // plain text: each suffix is a slice of the name itself, each label its char codes
    let start = 0;
    if (name.length > 253) throw new DnsWireError("name", "name over 255 bytes");
    for (;;) {
      const key = start === 0 ? name : name.slice(start);
      const at = this.#names.get(key);
      if (at !== undefined) return this.u16(0xc000 | at);
      if (this.pos < 0x4000) {
        this.#names.set(key, this.pos);
        added.push(key);
      }
      let end = name.indexOf(".", start);
      if (end < 0) end = name.length;
      const len = end - start;
      if (len === 0 || len > MAX_LABEL_LENGTH) throw new DnsWireError("name", `bad label in "${name}"`);
      this.u8(len);
      this.#room(len);
      for (let i = start; i < end; i++) {
        const c = name.charCodeAt(i);
        if (c > 0xff) throw new DnsWireError("name", `non-ASCII character in "${name}"`);
        this.buf[this.pos++] = c;
      }
      if (end === name.length) break;
      start = end + 1;
    }
    this.u8(0);
  }

  #escapedName(name: string, added: string[]): void {
    const labels = nameLabels(name);
    const keys: string[] = new Array(labels.length);
    let key = "";
    for (let i = labels.length - 1; i >= 0; i--) {
      const text = labelText(labels[i], 0, labels[i].length);
      key = key === "" ? text : `${text}.${key}`;
      keys[i] = key;
    }
    for (let i = 0; i < labels.length; i++) {
      const at = this.#names.get(keys[i]);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.pos < 0x4000) {
        this.#names.set(keys[i], this.pos);
        added.push(keys[i]);
      }
      this.u8(labels[i].length);
      this.bytes(labels[i]);
    }
    this.u8(0);
  }

  forget(keys: readonly string[]): void {
    for (const k of keys) this.#names.delete(k);
  }
}

function upperBound(m: DnsMessage): number {
  let n = 12 + (m.edns ? OPT_SIZE : 0);
  for (const q of m.questions) n += q.name.length + 2 + 4;
  for (const s of [m.answers, m.authorities, m.additionals]) {
    for (const r of s) n += r.name.length + 2 + 10 + r.data.length;
  }
  return n;
}

function writeRecord(w: Writer, r: DnsRecord, added: string[]): void {
  w.name(r.name, added);
  w.u16(r.type);
  w.u16(r.class);
  w.u32(r.ttl >>> 0);
  if (r.data.length > 0xffff) throw new DnsWireError("encode", "RDATA over 65535 bytes");
  w.u16(r.data.length);
  w.bytes(r.data);
}

export interface Encoded {
  readonly bytes: Uint8Array;
  /** Some records did not fit in the limit. */
  readonly truncated: boolean;
}

/** Encodes `m` into at most `maxSize` bytes (512..65535). Throws DnsWireError on a bad name. */
export function encodeMessage(m: DnsMessage, maxSize = MAX_MESSAGE_SIZE): Encoded {
  const limit = Math.max(512, Math.min(MAX_MESSAGE_SIZE, maxSize));
  const w = new Writer(limit - (m.edns ? OPT_SIZE : 0), Math.min(limit, upperBound(m)));
  w.pos = 12;
  const counts = [0, 0, 0, 0];
  let tc = m.tc;
  let dropped = false;
  try {
    for (const q of m.questions) {
      w.name(q.name, []);
      w.u16(q.type);
      w.u16(q.class);
      counts[0]++;
    }
  } catch (e) {
    if (e instanceof Overflow) throw new DnsWireError("encode", "the question does not fit");
    throw e;
  }
  const sections = [m.answers, m.authorities, m.additionals];
  for (let s = 0; s < 3 && !dropped; s++) {
    for (const r of sections[s]) {
      const mark = w.pos;
      const added: string[] = [];
      try {
        writeRecord(w, r, added);
        counts[s + 1]++;
      } catch (e) {
        if (!(e instanceof Overflow)) throw e;
        w.pos = mark;
        w.forget(added);
        dropped = true;
        if (s < 2) tc = true;
        break;
      }
    }
  }
  if (m.edns) {
    // the OPT record's room was kept aside: it always fits
    const e = m.edns;
    const end = w.pos;
    w.buf[end] = 0;
    const dv = new DataView(w.buf.buffer, w.buf.byteOffset);
    dv.setUint16(end + 1, RType.OPT);
    dv.setUint16(end + 3, e.udpSize);
    dv.setUint32(
      end + 5,
      ((e.extendedRcode & 0xff) << 24 | (e.version & 0xff) << 16 | (e.dnssecOk ? 0x8000 : 0)) >>> 0,
    );
    dv.setUint16(end + 9, 0);
    w.pos = end + OPT_SIZE;
    counts[3]++;
  }
  const b = w.buf;
  b[0] = m.id >> 8;
  b[1] = m.id & 0xff;
  b[2] = (m.qr ? 0x80 : 0) | ((m.opcode & 0xf) << 3) | (m.aa ? 0x04 : 0) | (tc ? 0x02 : 0) |
    (m.rd ? 0x01 : 0);
  b[3] = (m.ra ? 0x80 : 0) | (m.ad ? 0x20 : 0) | (m.cd ? 0x10 : 0) | (m.rcode & 0xf);
  for (let i = 0; i < 4; i++) {
    b[4 + 2 * i] = counts[i] >> 8;
    b[5 + 2 * i] = counts[i] & 0xff;
  }
  return { bytes: b.subarray(0, w.pos), truncated: dropped };
}
