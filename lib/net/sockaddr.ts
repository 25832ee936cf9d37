/** `struct sockaddr_in` / `sockaddr_in6` bytes for IP socket addresses, and back (Linux layout). */
import { formatIpBytes, ipBytes, type SocketAddr } from "../state/ip.ts";
import { ZtError } from "../error.ts";
import { C } from "./libc.ts";

export const SOCKADDR_MAX = 28;

/** The address family a socket for `ip` needs. */
export function familyOf(ip: string): typeof C.AF_INET | typeof C.AF_INET6 {
  const b = ipBytes(ip);
  if (!b) throw new ZtError("address", `not an IP address: ${ip}`);
  return b.length === 4 ? C.AF_INET : C.AF_INET6;
}

/** Encodes `addr` as a sockaddr; `family` forces AF_INET6 (an IPv4 address becomes v4-mapped). */
export function encodeSockaddr(addr: SocketAddr, family?: number): Uint8Array {
  const b = ipBytes(addr.ip);
  if (!b) throw new ZtError("address", `not an IP address: ${addr.ip}`);
  if (addr.port < 0 || addr.port > 65535) throw new ZtError("address", `bad port ${addr.port}`);
  const v6 = family === C.AF_INET6 || b.length === 16;
  const out = new Uint8Array(v6 ? 28 : 16);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, v6 ? C.AF_INET6 : C.AF_INET, true);
  dv.setUint16(2, addr.port, false);
  if (!v6) out.set(b, 4);
  else if (b.length === 16) out.set(b, 8);
  else {
    out[18] = 0xff;
    out[19] = 0xff;
    out.set(b, 20);
  }
  return out;
}

/** Decodes a sockaddr (canonical IP: v4-mapped IPv6 becomes IPv4); undefined for other families. */
export function decodeSockaddr(bytes: Uint8Array): SocketAddr | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = dv.getUint16(0, true);
  const port = dv.getUint16(2, false);
  if (family === C.AF_INET) return { ip: formatIpBytes(bytes.slice(4, 8)), port };
  if (family === C.AF_INET6) return { ip: formatIpBytes(bytes.slice(8, 24)), port };
  return undefined;
}
