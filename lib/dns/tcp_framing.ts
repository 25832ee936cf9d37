/**
 * DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): each message is preceded by its length as two
 * bytes. The reassembly buffer holds at most one unfinished message (≤ 65,537 bytes) besides the chunk
 * being read, whatever a peer sends.
 */
import type net from "node:net";

export class TcpFramer {
  #buf: Uint8Array = new Uint8Array(0);

  /** Bytes received; returns the messages they complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    let buf = chunk;
    if (this.#buf.length > 0) {
      buf = new Uint8Array(this.#buf.length + chunk.length);
      buf.set(this.#buf);
      buf.set(chunk, this.#buf.length);
    }
    const out: Uint8Array[] = [];
    let pos = 0;
    while (buf.length - pos >= 2) {
      const len = (buf[pos] << 8) | buf[pos + 1];
      if (buf.length - pos - 2 < len) break;
      out.push(Uint8Array.prototype.slice.call(buf, pos + 2, pos + 2 + len));
      pos += 2 + len;
    }
    this.#buf = Uint8Array.prototype.slice.call(buf, pos);
    return out;
  }

  /** Bytes of an unfinished message held. */
  get pending(): number {
    return this.#buf.length;
  }
}

/** `message` with its two-byte length prefix. */
export function frameTcpMessage(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** Calls `onMessage` for every framed message arriving on `sock`. */
export function readTcpMessages(sock: net.Socket, onMessage: (m: Uint8Array) => void): void {
  const framer = new TcpFramer();
  sock.on("data", (d: Uint8Array) => {
    for (const m of framer.push(d)) onMessage(m);
  });
}
