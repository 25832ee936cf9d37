/**
 * node:tls over a socket zt made (lib/net/): Deno's TLS takes over the socket's reads, so the socket
 * never sees its own end and would stay open after the TLS connection is over. This ties them: when
 * the peer ends the TLS connection, zt ends its side (flushing what it still had to send) and closes
 * the socket; when the TLS socket closes, the socket does too.
 */
import type net from "node:net";
import type tls from "node:tls";

/** How long a TLS connection whose peer has ended may take to flush zt's last bytes. */
const FLUSH_MS = 1000;

export function tieToTransport(t: tls.TLSSocket, transport: net.Socket): void {
  let done = false;
  const close = () => {
    if (done) return;
    done = true;
    transport.destroy();
  };
  t.once("end", () => {
    t.end();
    t.once("finish", close);
    setTimeout(close, FLUSH_MS).unref?.();
  });
  t.once("close", close);
}

/** The socket a TLS socket from `tls.Server.emit("connection", socket)` wraps (Node's `_parent`). */
export function transportOf(t: tls.TLSSocket): net.Socket | undefined {
  return (t as unknown as { _parent?: net.Socket })._parent;
}
