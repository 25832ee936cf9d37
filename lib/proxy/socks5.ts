/**
 * SOCKS5 (RFC 1928) server handshake: no-auth, CONNECT only, IPv4 / IPv6 / domain targets.
 * zt answers only once the upstream is up, mapping the outcome to a reply code.
 */
import type net from "node:net";
import { ZtError } from "../error.ts";
import { formatIpBytes, formatSocketAddr } from "../state/ip.ts";

export const Socks5Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

export type Socks5Target =
  | { readonly kind: "ip"; readonly ip: string; readonly port: number }
  | { readonly kind: "domain"; readonly host: string; readonly port: number };

export function formatTarget(t: Socks5Target): string {
  return t.kind === "ip" ? formatSocketAddr(t.ip, t.port) : `${t.host}:${t.port}`;
}

/** A handshake failure; `reply` is the code sent back (if any) before closing. */
export class Socks5Error extends ZtError {
  constructor(message: string, readonly reply?: number) {
    super("socks5", message);
  }
}

/**
 * Reads exactly what the handshake needs from a node:net socket; bytes that arrive past it are kept in
 * `rest`. `detach()` removes its listeners and pauses the socket, so no byte is lost before the relay
 * takes over.
 */
class HandshakeReader {
  #buf = new Uint8Array(0);
  #want?: { n: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void };
  #error?: Error;

  constructor(readonly socket: net.Socket) {
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError);
    socket.on("close", this.#onEnd);
  }

  #onData = (chunk: Uint8Array): void => {
    const merged = new Uint8Array(this.#buf.length + chunk.length);
    merged.set(this.#buf);
    merged.set(chunk, this.#buf.length);
    this.#buf = merged;
    if (this.#buf.length > 1024) this.#onError(new Socks5Error("SOCKS5 handshake too long"));
    else this.#check();
  };

  #onEnd = (): void => this.#onError(new Socks5Error("client closed during the SOCKS5 handshake"));

  #onError = (e: Error): void => {
    this.#error ??= e instanceof Socks5Error
      ? e
      : new Socks5Error(`client failed during the handshake: ${e.message}`);
    this.#check();
  };

  #check(): void {
    const w = this.#want;
    if (!w) return;
    if (this.#buf.length >= w.n) {
      this.#want = undefined;
      const out = this.#buf.subarray(0, w.n);
      this.#buf = this.#buf.subarray(w.n);
      w.resolve(out);
    } else if (this.#error) {
      this.#want = undefined;
      w.reject(this.#error);
    }
  }

  need(n: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#check();
    });
  }

  detach(): Uint8Array {
    this.socket.pause();
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("error", this.#onError);
    this.socket.off("close", this.#onEnd);
    return this.#buf.slice();
  }
}

function write(socket: net.Socket, bytes: number[]): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.write(new Uint8Array(bytes), (e) => (e ? reject(e) : resolve()))
  );
}

/**
 * Runs the greeting and reads the CONNECT request. Returns the target and any bytes the client sent
 * after the request (they belong to the tunnel). Throws Socks5Error after replying where one is due.
 */
export async function readSocks5Request(
  conn: net.Socket,
): Promise<{ target: Socks5Target; rest: Uint8Array }> {
  const r = new HandshakeReader(conn);
  try {
    const target = await readRequest(r, conn);
    return { target, rest: r.detach() };
  } catch (e) {
    r.detach();
    throw e;
  }
}

async function readRequest(r: HandshakeReader, conn: net.Socket): Promise<Socks5Target> {
  const [ver, nmethods] = await r.need(2);
  if (ver !== 5) throw new Socks5Error(`not SOCKS5 (version byte ${ver})`);
  const methods = await r.need(nmethods);
  if (!methods.includes(0)) {
    await write(conn, [5, 0xff]);
    throw new Socks5Error("client offers no supported authentication method (need no-auth)");
  }
  await write(conn, [5, 0]);
  const [v2, cmd, _rsv, atyp] = await r.need(4);
  if (v2 !== 5) throw new Socks5Error(`bad SOCKS5 request version ${v2}`);
  if (cmd !== 1) {
    await sendReply(conn, Socks5Reply.COMMAND_NOT_SUPPORTED);
    throw new Socks5Error(
      `SOCKS5 command ${cmd} not supported (CONNECT only)`,
      Socks5Reply.COMMAND_NOT_SUPPORTED,
    );
  }
  let target: Socks5Target;
  if (atyp === 1) {
    const a = await r.need(6);
    target = { kind: "ip", ip: `${a[0]}.${a[1]}.${a[2]}.${a[3]}`, port: (a[4] << 8) | a[5] };
  } else if (atyp === 4) {
    const a = await r.need(18);
    target = { kind: "ip", ip: formatIpBytes(a.subarray(0, 16)), port: (a[16] << 8) | a[17] };
  } else if (atyp === 3) {
    const [len] = await r.need(1);
    const a = await r.need(len + 2);
    const host = new TextDecoder().decode(a.subarray(0, len));
    target = { kind: "domain", host, port: (a[len] << 8) | a[len + 1] };
  } else {
    await sendReply(conn, Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED);
    throw new Socks5Error(
      `SOCKS5 address type ${atyp} not supported`,
      Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED,
    );
  }
  return target;
}

/** Sends a reply with a zero IPv4 bind address. */
export function sendReply(conn: net.Socket, code: number): Promise<void> {
  return write(conn, [5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
}
