/**
 * Domain names between wire labels and presentation text (RFC 1035 §5.1 escapes): `\.` and `\\` for a
 * dot or backslash inside a label, `\DDD` for bytes outside printable ASCII. A name's text never ends
 * with a dot; the root is "".
 */
import { DnsWireError } from "./dns_types.ts";

export const MAX_NAME_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;

const BACKSLASH = 0x5c;
const DOT = 0x2e;

/** One wire label (bytes `from..to` of `buf`) as presentation text. */
export function labelText(buf: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) {
    const b = buf[i];
    if (b > 0x20 && b < 0x7f && b !== DOT && b !== BACKSLASH) s += String.fromCharCode(b);
    else if (b === DOT || b === BACKSLASH) s += b === DOT ? "\\." : "\\\\";
    else s += `\\${b < 10 ? "00" : b < 100 ? "0" : ""}${b}`;
  }
  return s;
}

/** The wire labels of a presentation name (no compression, no final zero); throws on a bad name. */
export function nameLabels(name: string): Uint8Array[] {
  if (name === "" || name === ".") return [];
  const text = name.endsWith(".") && !name.endsWith("\\.") ? name.slice(0, -1) : name;
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let total = 1;
  const finish = () => {
    if (cur.length === 0) throw new DnsWireError("name", `empty label in "${name}"`);
    if (cur.length > MAX_LABEL_LENGTH) throw new DnsWireError("name", `label over 63 bytes in "${name}"`);
    labels.push(Uint8Array.from(cur));
    total += cur.length + 1;
    cur = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) {
      const d = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw new DnsWireError("name", `bad escape in "${name}"`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i) & 0xff);
      } else throw new DnsWireError("name", `trailing backslash in "${name}"`);
    } else if (c === DOT) finish();
    else if (c > 0xff) throw new DnsWireError("name", `non-ASCII character in "${name}"`);
    else cur.push(c);
  }
  finish();
  if (total > MAX_NAME_LENGTH) throw new DnsWireError("name", `name over 255 bytes`);
  return labels;
}

/** The uncompressed wire form of a name (labels and the final zero byte). */
export function encodeName(name: string): Uint8Array {
  const labels = nameLabels(name);
  const out = new Uint8Array(labels.reduce((n, l) => n + l.length + 1, 1));
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    out.set(l, o);
    o += l.length;
  }
  return out;
}

/** Lowercase ASCII (DNS compares names case-insensitively, RFC 4343). */
export function lowerName(name: string): string {
  return /[A-Z]/.test(name) ? name.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : name;
}

/** The labels of a presentation name as text; undefined when it has escapes (never a mesh name). */
export function plainLabels(name: string): string[] | undefined {
  if (name.includes("\\")) return undefined;
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  return n === "" ? [] : n.split(".");
}
