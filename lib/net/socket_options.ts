/** Socket options zt sets through the fd, as ztunnel sets them (src/config.rs SocketConfig, src/socket.rs). */
import { C, type Libc, SyscallError } from "./libc.ts";

/** TCP keepalive as ztunnel's KEEPALIVE_* settings: on, 180 s idle, 180 s between 9 probes. */
export interface KeepaliveOptions {
  readonly enabled: boolean;
  readonly timeMs: number;
  readonly intervalMs: number;
  readonly retries: number;
  /** TCP_USER_TIMEOUT = time + retries × interval (ztunnel's USER_TIMEOUT_ENABLED). */
  readonly userTimeout: boolean;
}

export const DEFAULT_KEEPALIVE: KeepaliveOptions = {
  enabled: true,
  timeMs: 180_000,
  intervalMs: 180_000,
  retries: 9,
  userTimeout: false,
};

/** "try": set it where permitted (ztunnel's best effort); "require": fail without it. */
export type TransparentMode = "off" | "try" | "require";

export function setMark(libc: Libc, fd: number, mark: number): void {
  libc.setInt(fd, C.SOL_SOCKET, C.SO_MARK, mark, "SO_MARK");
}

export function setReusePort(libc: Libc, fd: number): void {
  libc.setInt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1, "SO_REUSEPORT");
}

export function setReuseAddr(libc: Libc, fd: number): void {
  libc.setInt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1, "SO_REUSEADDR");
}

export function setNoDelay(libc: Libc, fd: number): void {
  libc.setInt(fd, C.SOL_TCP, C.TCP_NODELAY, 1, "TCP_NODELAY");
}

/** IP_TRANSPARENT (IPV6_TRANSPARENT too on an IPv6 socket); true when set. */
export function setTransparent(libc: Libc, fd: number, family: number, mode: TransparentMode): boolean {
  if (mode === "off") return false;
  try {
    libc.setInt(fd, C.SOL_IP, C.IP_TRANSPARENT, 1, "IP_TRANSPARENT");
    if (family === C.AF_INET6) libc.setInt(fd, C.SOL_IPV6, C.IPV6_TRANSPARENT, 1, "IPV6_TRANSPARENT");
    return true;
  } catch (e) {
    if (mode === "require" || !(e instanceof SyscallError)) throw e;
    return false;
  }
}

/** IP_FREEBIND: bind an address this namespace does not own (a spoofed client source). */
export function setFreebind(libc: Libc, fd: number, family: number): void {
  if (family === C.AF_INET6) libc.setInt(fd, C.SOL_IPV6, C.IPV6_FREEBIND, 1, "IPV6_FREEBIND");
  else libc.setInt(fd, C.SOL_IP, C.IP_FREEBIND, 1, "IP_FREEBIND");
}

export function setKeepalive(libc: Libc, fd: number, k: KeepaliveOptions): void {
  if (!k.enabled) return;
  libc.setInt(fd, C.SOL_SOCKET, C.SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  libc.setInt(fd, C.SOL_TCP, C.TCP_KEEPIDLE, Math.max(1, Math.round(k.timeMs / 1000)), "TCP_KEEPIDLE");
  libc.setInt(fd, C.SOL_TCP, C.TCP_KEEPINTVL, Math.max(1, Math.round(k.intervalMs / 1000)), "TCP_KEEPINTVL");
  libc.setInt(fd, C.SOL_TCP, C.TCP_KEEPCNT, Math.max(1, k.retries), "TCP_KEEPCNT");
  if (k.userTimeout) {
    libc.setInt(fd, C.SOL_TCP, C.TCP_USER_TIMEOUT, k.timeMs + k.retries * k.intervalMs, "TCP_USER_TIMEOUT");
  }
}

/** SO_ERROR: the outcome of a non-blocking connect (0 = connected). */
export function socketError(libc: Libc, fd: number): number {
  return libc.getInt(fd, C.SOL_SOCKET, C.SO_ERROR) ?? -1;
}
