/**
 * node:dgram sockets over UDP sockets zt made itself (in a pod's namespace, marked, SO_REUSEPORT).
 * node:dgram cannot take an fd through its public API on Deno (`bind({fd})` refuses UDP fds), so the
 * fd is opened into the socket's own handle the way `bind({fd})` does it in Node. This leans on
 * Deno 2.9.6's node:dgram internals (pinned; tests/net/udp_socket_test.ts fails loudly if they change).
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { ZtError } from "../error.ts";

interface UdpHandle {
  open(fd: number): number;
  recvStart(): number;
  onmessage?: (nread: number, handle: unknown, buf: Uint8Array | undefined, rinfo: dgram.RemoteInfo) => void;
  onerror?: (err: unknown) => void;
}

interface DgramState {
  handle: UdpHandle;
  bindState: number;
  receiving: boolean;
}

const BIND_STATE_BOUND = 2;

function stateOf(s: dgram.Socket): DgramState {
  const key = Object.getOwnPropertySymbols(s).find((k) => k.description === "kStateSymbol");
  const st = key ? (s as unknown as Record<symbol, DgramState>)[key] : undefined;
  if (!st || typeof st.handle?.open !== "function" || typeof st.handle?.recvStart !== "function") {
    throw new ZtError(
      "platform",
      `node:dgram internals changed in Deno ${Deno.version.deno}: zt cannot adopt a UDP socket (it needs Deno 2.9.6)`,
    );
  }
  return st;
}

/** A bound dgram.Socket that owns `fd` (a bound, non-blocking UDP socket) and emits "message". */
export function adoptUdpSocket(fd: number, family: 4 | 6): dgram.Socket {
  const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
  const st = stateOf(socket);
  const rc = st.handle.open(fd);
  if (rc !== 0) throw new ZtError("syscall", `adopting UDP fd ${fd} failed (${rc})`);
  st.handle.onmessage = (nread, _handle, buf, rinfo) => {
    if (nread < 0) socket.emit("error", new ZtError("syscall", `recvmsg failed (${nread})`));
    else if (rinfo && buf) {
      socket.emit("message", Buffer.from(buf.buffer, buf.byteOffset, Math.min(nread, buf.byteLength)), rinfo);
    }
  };
  st.handle.onerror = (err) => socket.emit("error", err);
  st.bindState = BIND_STATE_BOUND;
  st.receiving = true;
  st.handle.recvStart();
  return socket;
}
