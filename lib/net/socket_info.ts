/**
 * What zt reads off a socket: its addresses, the original destination of a REDIRECTed connection
 * (SO_ORIGINAL_DST, as ztunnel's `orig_dst_addr_or_default`), a node:net socket's fd, and an abort
 * that the peer sees as a reset (RST), not as a clean end (FIN).
 */
import type net from "node:net";
import { ZtError } from "../error.ts";
import type { SocketAddr } from "../state/ip.ts";
import { C, type Libc } from "./libc.ts";
import { decodeSockaddr } from "./sockaddr.ts";

function sockaddrCall(call: (buf: Uint8Array, len: Uint8Array) => number): SocketAddr | undefined {
  const buf = new Uint8Array(new ArrayBuffer(28));
  const len = new Uint32Array([28]);
  if (call(buf, new Uint8Array(len.buffer)) !== 0) return undefined;
  return decodeSockaddr(buf);
}

/** getsockname(fd). */
export function localAddress(libc: Libc, fd: number): SocketAddr | undefined {
  return sockaddrCall((b, l) => libc.sym.getsockname(fd, b, l));
}

/** getpeername(fd). */
export function peerAddress(libc: Libc, fd: number): SocketAddr | undefined {
  return sockaddrCall((b, l) => libc.sym.getpeername(fd, b, l));
}

/**
 * Where a REDIRECTed connection was going: SO_ORIGINAL_DST (IPv4), then IP6T_SO_ORIGINAL_DST, then the
 * socket's own address (TPROXY, or no NAT at all).
 */
export function originalDst(libc: Libc, fd: number): SocketAddr | undefined {
  const v4 = sockaddrCall((b, l) => libc.sym.getsockopt(fd, C.SOL_IP, C.SO_ORIGINAL_DST, b, l));
  if (v4) return v4;
  const v6 = sockaddrCall((b, l) => libc.sym.getsockopt(fd, C.SOL_IPV6, C.IP6T_SO_ORIGINAL_DST, b, l));
  return v6 ?? localAddress(libc, fd);
}

interface HandleWithFd {
  fdForIpc?: () => number;
}

/**
 * A duplicate of the fd under a node:net socket, which the caller must close (Deno 2.9.6's TCP handle
 * dups it in `fdForIpc`; tests fail loudly if a Deno upgrade changes that). -1 when the socket has no
 * handle (closed). Sockets zt accepted or connected itself already have their fd: use that one.
 */
export function dupFd(socket: net.Socket): number {
  const h = (socket as unknown as { _handle?: HandleWithFd })._handle;
  if (!h) return -1;
  if (typeof h.fdForIpc !== "function") {
    throw new ZtError(
      "platform",
      `node:net sockets expose no fd in Deno ${Deno.version.deno} (zt needs 2.9.6)`,
    );
  }
  return h.fdForIpc();
}

/** Aborts the connection so the peer reads ECONNRESET: no FIN, pending data discarded. */
export function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  socket.resetAndDestroy();
}
