/**
 * One received ZDS packet → one request with its fd, by ztunnel's rules (src/inpod/protocol.rs): exactly
 * one fd, only on AddWorkload; more than one fd, truncation, a decode failure, an Add without an fd or
 * an fd on anything else is a read error. Every fd not handed on is closed here, so none leaks.
 */
import type { Libc } from "../net/libc.ts";
import type { Packet } from "../net/seqpacket.ts";
import { decodeWorkloadRequest, type ZdsRequest } from "./zds_messages.ts";

/** Why a packet was not a request; the client NACKs "failure to read message : …" and reconnects. */
export type ZdsReadErrorKind = "fd_count" | "truncated" | "decode" | "no_fd" | "unexpected_fd";

export interface ZdsReadError {
  readonly kind: ZdsReadErrorKind;
  readonly detail: string;
}

/** A request and, for Add only, the netns fd the receiver now owns. */
export type ZdsReceived =
  | { readonly request: Extract<ZdsRequest, { kind: "add" }>; readonly fd: number }
  | { readonly request: Exclude<ZdsRequest, { kind: "add" }>; readonly fd?: undefined };

export type ZdsRead = { readonly ok: true; readonly received: ZdsReceived } | {
  readonly ok: false;
  readonly error: ZdsReadError;
};

function refuse(libc: Libc, fds: readonly number[], kind: ZdsReadErrorKind, detail: string): ZdsRead {
  for (const fd of fds) libc.closeFd(fd);
  return { ok: false, error: { kind, detail } };
}

/** Interprets a non-empty packet (a zero-length one is end of stream, handled by the caller). */
export function readRequest(libc: Libc, packet: Packet): ZdsRead {
  const fds = packet.fds;
  if (fds.length > 1) return refuse(libc, fds, "fd_count", `Expected 1 FD, got ${fds.length}`);
  if (packet.truncated) return refuse(libc, fds, "truncated", "received truncated message");
  const decoded = decodeWorkloadRequest(packet.data);
  if (!decoded.ok) {
    return refuse(libc, fds, "decode", `${decoded.error.reason}: ${decoded.error.detail}`);
  }
  const request = decoded.message;
  if (request.kind === "add") {
    if (fds.length === 0) return refuse(libc, fds, "no_fd", "No control message");
    return { ok: true, received: { request, fd: fds[0] } };
  }
  if (fds.length > 0) return refuse(libc, fds, "unexpected_fd", "Unexpected control message");
  return { ok: true, received: { request } };
}
