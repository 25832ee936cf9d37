/**
 * node:tls over a socket zt made (lib/net/): Deno's TLS takes over the socket's reads, so the socket
 * never sees its own end and would stay open after the TLS connection is over. This ties them: when
 * the peer ends the TLS connection, zt ends its side (flushing what it still had to send) and closes
 * the socket; when the TLS socket closes, the socket does too. And Deno's TLS (its TLSWrap) goes on
 * reading the socket while the TLS socket is paused, holding all the peer sends in memory (a paused
 * node:net socket stops reading, so the kernel pushes back on the peer): pausing the TLS socket also
 * stops the socket's own reads, and resuming restarts them.
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
  pauseTogether(t, transport);
}

/** The read side of a node:net socket's handle (Deno's TCPWrap). */
interface ReadHandle {
  readStart?(): unknown;
  readStop?(): unknown;
}

function pauseTogether(t: tls.TLSSocket, transport: net.Socket): void {
  const pause = t.pause.bind(t);
  const resume = t.resume.bind(t);
  const handle = () => (transport as unknown as { _handle?: ReadHandle | null })._handle;
  let stopped = false;
  t.pause = () => {
    pause();
    if (!stopped && !transport.destroyed) {
      stopped = true;
      handle()?.readStop?.();
    }
    return t;
  };
  t.resume = () => {
    resume();
    if (stopped && !transport.destroyed) {
      stopped = false;
      handle()?.readStart?.();
    }
    return t;
  };
}

/** The socket a TLS socket from `tls.Server.emit("connection", socket)` wraps (Node's `_parent`). */
export function transportOf(t: tls.TLSSocket): net.Socket | undefined {
  return (t as unknown as { _parent?: net.Socket })._parent;
}
