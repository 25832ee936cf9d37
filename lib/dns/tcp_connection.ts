/**
 * One DNS-over-TCP client connection: framed requests answered in order, one at a time. At most
 * MAX_QUEUED_TCP_REQUESTS unanswered requests are read ahead (then reading pauses); a connection without a
 * complete request for `timeoutMs` is closed (ztunnel's TCP request timeout); a half-close is answered
 * and then closed.
 */
import type net from "node:net";
import { frameTcpMessage, TcpFramer } from "./tcp_framing.ts";

export const MAX_QUEUED_TCP_REQUESTS = 16;

export interface TcpConnectionOptions {
  /** The answer to one request (undefined: none). */
  readonly handle: (request: Uint8Array) => Promise<Uint8Array | undefined>;
  readonly timeoutMs: number;
  readonly onTimeout: () => void;
  readonly onClose: () => void;
}

export function serveTcpConnection(sock: net.Socket, o: TcpConnectionOptions): void {
  const framer = new TcpFramer();
  const queue: Uint8Array[] = [];
  let busy = false;
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (busy || queue.length) return arm();
      o.onTimeout();
      sock.destroy();
    }, o.timeoutMs);
  };
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length && !sock.destroyed) {
      const out = await o.handle(queue.shift()!);
      if (queue.length < MAX_QUEUED_TCP_REQUESTS) sock.resume();
      if (out && !sock.destroyed && !sock.write(frameTcpMessage(out))) {
        await new Promise<void>((r) => sock.once("drain", r).once("close", r));
      }
      arm();
    }
    busy = false;
    if (ended && !sock.destroyed) sock.end();
  };
  sock.on("data", (d: Uint8Array) => {
    const msgs = framer.push(d);
    if (msgs.length === 0) return;
    queue.push(...msgs);
    arm();
    if (queue.length >= MAX_QUEUED_TCP_REQUESTS) sock.pause();
    pump();
  });
  sock.on("end", () => {
    ended = true;
    if (!busy) sock.end();
  });
  sock.on("error", () => sock.destroy());
  sock.on("close", () => {
    clearTimeout(timer);
    o.onClose();
  });
  arm();
}
