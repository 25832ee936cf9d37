/**
 * IP address text: canonical forms, families, `ip:port` socket addresses and prefix matching.
 * Canonical forms are what every index in the state is keyed by: IPv4 dotted quad, IPv6 compressed
 * lowercase (RFC 5952), and IPv4-mapped IPv6 (`::ffff:1.2.3.4`) folded to its IPv4 address.
 */

import { formatV6Groups } from "../policy/cidr.ts";

export type IpFamily = 4 | 6;

export interface SocketAddr {
  readonly ip: string;
  readonly port: number;
}

function parseV4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseGroups(text: string): number[] | undefined {
  if (text === "") return [];
  const out: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i === parts.length - 1 && p.includes(".")) {
      const v4 = parseV4(p);
      if (!v4) return undefined;
      out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
  }
  return out;
}

function parseV6(text: string): number[] | undefined {
  const dbl = text.indexOf("::");
  if (dbl >= 0) {
    if (text.indexOf("::", dbl + 1) >= 0) return undefined;
    const head = parseGroups(text.slice(0, dbl));
    const tail = parseGroups(text.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    // an embedded IPv4 may only end the address
    if (text.slice(0, dbl).includes(".")) return undefined;
    return [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  }
  const groups = parseGroups(text);
  return groups && groups.length === 8 ? groups : undefined;
}

/** The 4 or 16 bytes of an IP in canonical form, or undefined when `text` is not an IP. */
export function ipBytes(text: string): Uint8Array | undefined {
  const v4 = parseV4(text);
  if (v4) return Uint8Array.from(v4);
  const v6 = text.includes(":") ? parseV6(text) : undefined;
  if (!v6) return undefined;
  const isMapped = v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff;
  if (isMapped) return Uint8Array.from([v6[6] >> 8, v6[6] & 0xff, v6[7] >> 8, v6[7] & 0xff]);
  const out = new Uint8Array(16);
  v6.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Canonical text of 4 or 16 address bytes (IPv4-mapped IPv6 is written as IPv4). */
export function formatIpBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return Array.from(bytes.slice(12, 16)).join(".");
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  return formatV6Groups(groups);
}

/** Canonical text of an IP, or undefined when `text` is not a plain IP (no zone ids, no brackets). */
export function canonicalIp(text: string): string | undefined {
  const bytes = ipBytes(text.trim());
  return bytes ? formatIpBytes(bytes) : undefined;
}

export function isIp(text: string): boolean {
  return canonicalIp(text) !== undefined;
}

/** 4 or 6 for an IP (IPv4-mapped IPv6 counts as 4), undefined for anything else. */
export function ipFamily(text: string): IpFamily | undefined {
  const bytes = ipBytes(text);
  if (!bytes) return undefined;
  return bytes.length === 4 ? 4 : 6;
}

function parsePort(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** Parses `1.2.3.4:80` or `[::1]:80` into a canonical IP and a port (0–65535). */
export function parseSocketAddr(text: string): SocketAddr | undefined {
  let host: string;
  let port: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return undefined;
    host = text.slice(1, close);
    port = text.slice(close + 2);
    if (ipFamily(host) !== 6 && !host.includes(":")) return undefined;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return undefined;
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
    if (host.includes(":")) return undefined; // bare IPv6 needs brackets
  }
  const ip = canonicalIp(host);
  const p = parsePort(port);
  if (ip === undefined || p === undefined) return undefined;
  return { ip, port: p };
}

/** `1.2.3.4:80` or `[::1]:80`. */
export function formatSocketAddr(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Whether `ip` lies in `prefix/length` (both canonical or parseable text; families must match). */
export function prefixContains(prefix: string, length: number, ip: string): boolean {
  const p = ipBytes(prefix);
  const a = ipBytes(ip);
  if (!p || !a || p.length !== a.length || length < 0 || length > p.length * 8) return false;
  const full = Math.floor(length / 8);
  for (let i = 0; i < full; i++) if (p[i] !== a[i]) return false;
  const rest = length % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (p[full] & mask) === (a[full] & mask);
}

/** The loopback ranges 127.0.0.0/8 and ::1. */
export function isLoopback(ip: string): boolean {
  const b = ipBytes(ip);
  if (!b) return false;
  if (b.length === 4) return b[0] === 127;
  return b.slice(0, 15).every((x) => x === 0) && b[15] === 1;
}
