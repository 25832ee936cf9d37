/**
 * IP addresses and CIDR prefixes for L4 policy: parsing (IPv4, IPv6 with `::` compression and a dotted
 * IPv4 tail such as `::ffff:10.0.0.1`), canonical text (RFC 5952, like Go's netip and Rust's std) and
 * containment with ztunnel's (ipnet's) rules: an IPv4 net never contains an IPv6 address and vice versa.
 * Connection addresses are canonicalised first (`::ffff:a.b.c.d` → `a.b.c.d`), as ztunnel does with
 * accepted sockets.
 */
import { ZtError } from "../error.ts";
import type { Cidr } from "./model.ts";

/** An address as 32-bit words: one for IPv4, four for IPv6 (most significant first). */
export interface IpAddress {
  readonly v6: boolean;
  readonly words: readonly number[];
}

/** A prefix precompiled for containment tests: the masked network and the mask, word by word. */
export interface CompiledCidr {
  readonly v6: boolean;
  readonly net: readonly number[];
  readonly mask: readonly number[];
}

function parseV4Words(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value >>> 0;
}

function parseGroups(text: string): number[] | undefined {
  if (text === "") return [];
  const out: number[] = [];
  for (const g of text.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

function parseV6(text: string): number[] | undefined {
  let body = text;
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(":");
  if (lastColon >= 0 && body.indexOf(".", lastColon) > lastColon) {
    const v4 = parseV4Words(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    body = body.slice(0, lastColon + 1);
    // `1::2:1.2.3.4` leaves `1::2:`; `::1.2.3.4` leaves `::`; a lone trailing `:` is the separator.
    if (body.endsWith(":") && !body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0]);
    const rest = parseGroups(halves[1]);
    if (!head || !rest) return undefined;
    const mid = 8 - head.length - rest.length - tail.length;
    if (mid < 1) return undefined;
    groups = [...head, ...new Array<number>(mid).fill(0), ...rest, ...tail];
  } else {
    const all = parseGroups(body);
    if (!all) return undefined;
    groups = [...all, ...tail];
    if (groups.length !== 8) return undefined;
  }
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((groups[i] << 16) | groups[i + 1]) >>> 0);
  return words;
}

/** Parses an IPv4 or IPv6 address; undefined when it is not one (zones such as `%eth0` are refused). */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(":")) {
    const words = parseV6(text);
    return words ? { v6: true, words } : undefined;
  }
  const v4 = parseV4Words(text);
  return v4 === undefined ? undefined : { v6: false, words: [v4] };
}

/** `::ffff:a.b.c.d` becomes the IPv4 address `a.b.c.d`; other addresses are returned as they are. */
export function canonicalIp(ip: IpAddress): IpAddress {
  if (ip.v6 && ip.words[0] === 0 && ip.words[1] === 0 && ip.words[2] === 0xffff) {
    return { v6: false, words: [ip.words[3]] };
  }
  return ip;
}

function formatV4(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`, mapped v4 dotted). */
export function formatIp(ip: IpAddress): string {
  if (!ip.v6) return formatV4(ip.words[0]);
  const w = ip.words;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return `::ffff:${formatV4(w[3])}`;
  const groups: number[] = [];
  for (const word of w) groups.push(word >>> 16, word & 0xffff);
  return formatV6Groups(groups);
}

/** RFC 5952 text of eight 16-bit groups: lowercase, the longest run (≥ 2) of zero groups as `::`. */
export function formatV6Groups(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: readonly number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Parses `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/32`, `::ffff:10.0.0.0/104`; undefined when invalid. */
export function tryParseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.v6 ? 128 : 32;
  let prefixLen = max;
  if (slash >= 0) {
    const bits = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(bits)) return undefined;
    prefixLen = Number(bits);
    if (prefixLen > max) return undefined;
  }
  return { ip: formatIp(ip), prefixLen };
}

/** Like tryParseCidr, but throws `ZtError("config", 'invalid CIDR "…"')`. */
export function parseCidr(text: string): Cidr {
  const c = tryParseCidr(text);
  if (!c) throw new ZtError("config", `invalid CIDR ${JSON.stringify(text)}`);
  return c;
}

/** `1.2.3.0/24`; hosts keep their length (`10.0.0.1/32`), like ztunnel's config_dump. */
export function formatCidr(c: Cidr): string {
  return `${c.ip}/${c.prefixLen}`;
}

export function compileCidr(c: Cidr): CompiledCidr {
  const ip = parseIp(c.ip);
  if (!ip) throw new ZtError("config", `invalid CIDR ${JSON.stringify(formatCidr(c))}`);
  const max = ip.v6 ? 128 : 32;
  if (!Number.isInteger(c.prefixLen) || c.prefixLen < 0 || c.prefixLen > max) {
    throw new ZtError("config", `invalid CIDR ${JSON.stringify(formatCidr(c))}`);
  }
  const mask: number[] = [];
  const net: number[] = [];
  ip.words.forEach((word, i) => {
    const bits = Math.max(0, Math.min(32, c.prefixLen - 32 * i));
    const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    mask.push(m);
    net.push((word & m) >>> 0);
  });
  return { v6: ip.v6, net, mask };
}

/** Whether the (already canonical) address lies in the prefix; families must agree. */
export function compiledCidrContains(c: CompiledCidr, ip: IpAddress): boolean {
  if (c.v6 !== ip.v6) return false;
  for (let i = 0; i < c.net.length; i++) {
    if (((ip.words[i] & c.mask[i]) >>> 0) !== c.net[i]) return false;
  }
  return true;
}

/** Convenience: does `cidr` contain the address text (canonicalised)? Invalid text is never contained. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const parsed = parseIp(ip);
  return parsed !== undefined && compiledCidrContains(compileCidr(cidr), canonicalIp(parsed));
}
