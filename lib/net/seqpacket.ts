/**
 * AF_UNIX SOCK_SEQPACKET sockets, the transport of istio-cni's ZDS protocol: one message per packet,
 * file descriptors passed with SCM_RIGHTS. Non-blocking sockets made through libc; waits go through
 * the readiness reactor, every syscall runs on the main thread.
 */
import { ZtError } from "../error.ts";
import { C, E, errnoName, type Libc, SyscallError } from "./libc.ts";
import type { Readiness } from "./readiness.ts";

/** One received packet: its bytes and the fds that came with it (the caller owns them). */
export interface Packet {
  readonly data: Uint8Array;
  readonly fds: readonly number[];
  /** The packet or its control data did not fit (MSG_TRUNC / MSG_CTRUNC). */
  readonly truncated: boolean;
}

const MSGHDR = 56;
const IOVEC = 16;
const CMSG_HDR = 16;
/** Room for this many fds in one receive; more than one is already a protocol error for ZDS. */
const MAX_FDS = 4;

function sockaddrUn(path: string): Uint8Array {
  const p = new TextEncoder().encode(path);
  if (p.length >= 108) throw new ZtError("address", `unix socket path too long: ${path}`);
  const out = new Uint8Array(new ArrayBuffer(110));
  new DataView(out.buffer).setUint16(0, C.AF_UNIX, true);
  out.set(p, 2);
  return out.subarray(0, 2 + p.length + 1);
}

export class SeqpacketSocket {
  readonly #libc: Libc;
  readonly #readiness: Readiness;
  #fd: number;

  constructor(libc: Libc, readiness: Readiness, fd: number) {
    this.#libc = libc;
    this.#readiness = readiness;
    this.#fd = fd;
  }

  static #new(libc: Libc): number {
    return libc.check(
      libc.sym.socket(C.AF_UNIX, C.SOCK_SEQPACKET | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0),
      "socket",
      "AF_UNIX SOCK_SEQPACKET",
    );
  }

  /** Connects to a listening SEQPACKET socket at `path`. */
  static async connect(
    libc: Libc,
    readiness: Readiness,
    path: string,
    timeoutMs = 5000,
  ): Promise<SeqpacketSocket> {
    const fd = SeqpacketSocket.#new(libc);
    try {
      const sa = sockaddrUn(path);
      if (libc.sym.connect(fd, sa, sa.length) !== 0) {
        const errno = libc.errno();
        if (errno !== E.EINPROGRESS && errno !== E.EAGAIN) throw new SyscallError("connect", errno, path);
        if ((await readiness.wait(fd, "write", timeoutMs)) !== "ready") {
          throw new SyscallError("connect", E.ETIMEDOUT, path);
        }
        const err = libc.getInt(fd, C.SOL_SOCKET, C.SO_ERROR) ?? E.EINVAL;
        if (err !== 0) throw new SyscallError("connect", err, path);
      }
      return new SeqpacketSocket(libc, readiness, fd);
    } catch (e) {
      libc.closeFd(fd);
      throw e;
    }
  }

  /** A connected pair (tests, and in-process peers). */
  static pair(libc: Libc, readiness: Readiness): [SeqpacketSocket, SeqpacketSocket] {
    const fds = new Int32Array(2);
    libc.check(
      libc.sym.socketpair(
        C.AF_UNIX,
        C.SOCK_SEQPACKET | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC,
        0,
        new Uint8Array(fds.buffer),
      ),
      "socketpair",
    );
    return [new SeqpacketSocket(libc, readiness, fds[0]), new SeqpacketSocket(libc, readiness, fds[1])];
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Sends one packet, with `fds` attached in one SCM_RIGHTS message (the caller keeps its fds). */
  async send(data: Uint8Array, fds: readonly number[] = []): Promise<void> {
    const libc = this.#libc;
    const payload = new Uint8Array(new ArrayBuffer(Math.max(1, data.length)));
    payload.set(data);
    const iov = new Uint8Array(new ArrayBuffer(IOVEC));
    const iv = new DataView(iov.buffer);
    iv.setBigUint64(0, libc.addressOf(payload), true);
    iv.setBigUint64(8, BigInt(data.length), true);
    const ctlLen = fds.length ? cmsgSpace(4 * fds.length) : 0;
    const ctl = new Uint8Array(new ArrayBuffer(Math.max(8, ctlLen)));
    if (fds.length) {
      const cv = new DataView(ctl.buffer);
      cv.setBigUint64(0, BigInt(CMSG_HDR + 4 * fds.length), true);
      cv.setInt32(8, C.SOL_SOCKET, true);
      cv.setInt32(12, C.SCM_RIGHTS, true);
      fds.forEach((fd, i) => cv.setInt32(CMSG_HDR + 4 * i, fd, true));
    }
    const msg = new Uint8Array(new ArrayBuffer(MSGHDR));
    const mv = new DataView(msg.buffer);
    mv.setBigUint64(16, libc.addressOf(iov), true);
    mv.setBigUint64(24, 1n, true);
    if (fds.length) {
      mv.setBigUint64(32, libc.addressOf(ctl), true);
      mv.setBigUint64(40, BigInt(ctlLen), true);
    }
    for (;;) {
      this.#check();
      const n = Number(libc.sym.sendmsg(this.#fd, msg, C.MSG_NOSIGNAL | C.MSG_DONTWAIT));
      if (n >= 0) return;
      const errno = libc.errno();
      if (errno === E.EINTR) continue;
      if (errno !== E.EAGAIN) throw new SyscallError("sendmsg", errno);
      if ((await this.#readiness.wait(this.#fd, "write")) === "cancelled") throw this.#closedError();
    }
  }

  /** The next packet, or null at end of stream (the peer closed; a zero-length read). */
  async recv(maxBytes = 1024): Promise<Packet | null> {
    const libc = this.#libc;
    const data = new Uint8Array(new ArrayBuffer(maxBytes));
    const iov = new Uint8Array(new ArrayBuffer(IOVEC));
    const iv = new DataView(iov.buffer);
    iv.setBigUint64(0, libc.addressOf(data), true);
    iv.setBigUint64(8, BigInt(maxBytes), true);
    const ctlLen = cmsgSpace(4 * MAX_FDS);
    const ctl = new Uint8Array(new ArrayBuffer(ctlLen));
    const msg = new Uint8Array(new ArrayBuffer(MSGHDR));
    const mv = new DataView(msg.buffer);
    for (;;) {
      this.#check();
      mv.setBigUint64(16, libc.addressOf(iov), true);
      mv.setBigUint64(24, 1n, true);
      mv.setBigUint64(32, libc.addressOf(ctl), true);
      mv.setBigUint64(40, BigInt(ctlLen), true);
      mv.setInt32(48, 0, true);
      const n = Number(libc.sym.recvmsg(this.#fd, msg, C.MSG_CMSG_CLOEXEC | C.MSG_DONTWAIT));
      if (n < 0) {
        const errno = libc.errno();
        if (errno === E.EINTR) continue;
        if (errno !== E.EAGAIN) throw new SyscallError("recvmsg", errno);
        if ((await this.#readiness.wait(this.#fd, "read")) === "cancelled") throw this.#closedError();
        continue;
      }
      const flags = mv.getInt32(48, true);
      const fds = parseRights(ctl, Number(mv.getBigUint64(40, true)));
      if (n === 0 && fds.length === 0) return null;
      return {
        data: data.slice(0, n),
        fds,
        truncated: (flags & (C.MSG_TRUNC | C.MSG_CTRUNC)) !== 0,
      };
    }
  }

  #check(): void {
    if (this.#fd < 0) throw this.#closedError();
  }

  #closedError(): ZtError {
    return new ZtError("closed", "seqpacket socket closed");
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#readiness.cancel(this.#fd);
    this.#libc.closeFd(this.#fd);
    this.#fd = -1;
  }
}

/** A listening SEQPACKET socket (istio-cni's side of ZDS: standalone mode and tests). */
export class SeqpacketListener {
  readonly #libc: Libc;
  readonly #readiness: Readiness;
  #fd: number;

  private constructor(libc: Libc, readiness: Readiness, fd: number, readonly path: string) {
    this.#libc = libc;
    this.#readiness = readiness;
    this.#fd = fd;
  }

  /** Binds `path` (a leftover socket file must have been removed by the caller) and listens. */
  static listen(libc: Libc, readiness: Readiness, path: string, backlog = 128): SeqpacketListener {
    const fd = libc.check(
      libc.sym.socket(C.AF_UNIX, C.SOCK_SEQPACKET | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0),
      "socket",
    );
    try {
      const sa = sockaddrUn(path);
      libc.check(libc.sym.bind(fd, sa, sa.length), "bind", path);
      libc.check(libc.sym.listen(fd, backlog), "listen", path);
      return new SeqpacketListener(libc, readiness, fd, path);
    } catch (e) {
      libc.closeFd(fd);
      throw e;
    }
  }

  /** The next connection, or null once closed. */
  async accept(): Promise<SeqpacketSocket | null> {
    for (;;) {
      if (this.#fd < 0) return null;
      const fd = this.#libc.sym.accept4(this.#fd, null, null, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
      if (fd >= 0) return new SeqpacketSocket(this.#libc, this.#readiness, fd);
      const errno = this.#libc.errno();
      if (errno !== E.EAGAIN && errno !== E.EINTR && errno !== E.ECONNABORTED) {
        throw new SyscallError("accept4", errno, `${this.path} (${errnoName(errno)})`);
      }
      if ((await this.#readiness.wait(this.#fd, "read")) === "cancelled") return null;
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#readiness.cancel(this.#fd);
    this.#libc.closeFd(this.#fd);
    this.#fd = -1;
  }
}

function cmsgSpace(dataLen: number): number {
  return CMSG_HDR + ((dataLen + 7) & ~7);
}

/** The fds of every SCM_RIGHTS message in a control buffer of `len` bytes. */
function parseRights(ctl: Uint8Array, len: number): number[] {
  const out: number[] = [];
  const dv = new DataView(ctl.buffer, ctl.byteOffset, ctl.byteLength);
  let off = 0;
  while (off + CMSG_HDR <= len) {
    const clen = Number(dv.getBigUint64(off, true));
    if (clen < CMSG_HDR || off + clen > len) break;
    if (dv.getInt32(off + 8, true) === C.SOL_SOCKET && dv.getInt32(off + 12, true) === C.SCM_RIGHTS) {
      for (let p = off + CMSG_HDR; p + 4 <= off + clen; p += 4) out.push(dv.getInt32(p, true));
    }
    off += (clen + 7) & ~7;
  }
  return out;
}
