/**
 * The one seam where zt's sockets are made, as ztunnel's socket factories make them: created inside a
 * network namespace (a pod's, or zt's own), marked (SO_MARK = PACKET_MARK) before they bind or connect,
 * SO_REUSEPORT on listeners and UDP sockets, IP_TRANSPARENT where asked, an optional source address
 * (spoofed with IP_FREEBIND), TCP_NODELAY and keepalive, and a connect timeout. Sockets are made through
 * libc (lib/net/libc.ts) and handed to node:net / node:dgram, which Deno drives natively.
 *
 * Built once in lib/app.ts; `forNamespace` derives a pod's factory (its netns and the in-pod mark).
 */
import net from "node:net";
import type dgram from "node:dgram";
import { ZtError } from "../error.ts";
import { formatSocketAddr, type SocketAddr } from "../state/ip.ts";
import { C, E, errnoText, type Libc } from "./libc.ts";
import type { NetNamespace } from "./netns.ts";
import type { Readiness } from "./readiness.ts";
import { encodeSockaddr, familyOf } from "./sockaddr.ts";
import {
  DEFAULT_KEEPALIVE,
  type KeepaliveOptions,
  setFreebind,
  setKeepalive,
  setMark,
  setNoDelay,
  setReuseAddr,
  setReusePort,
  setTransparent,
  socketError,
  type TransparentMode,
} from "./socket_options.ts";
import { TcpListener } from "./tcp_listener.ts";
import type { FdBudget } from "./fd_budget.ts";
import { localAddress } from "./socket_info.ts";
import { adoptUdpSocket } from "./udp_socket.ts";

export interface SocketFactoryOptions {
  readonly libc: Libc;
  readonly readiness: Readiness;
  /** Where sockets are created (undefined: this thread's namespace, zt's own). */
  readonly netns?: NetNamespace;
  /** SO_MARK on every socket (ztunnel's PACKET_MARK: 1337 = 0x539 in in-pod mode). */
  readonly mark?: number;
  /** SO_REUSEPORT on listeners and UDP sockets (INPOD_PORT_REUSE). */
  readonly reusePort?: boolean;
  readonly keepalive?: KeepaliveOptions;
  /** Default connect timeout (ztunnel: 10 s to apps, 5 s to DNS upstreams). */
  readonly connectTimeoutMs?: number;
  /** The process's descriptors: sockets are counted against it, none is opened past it. */
  readonly budget?: FdBudget;
}

export interface ListenOptions {
  /** IP_TRANSPARENT on the listener (TPROXY delivery, spoofed replies). */
  readonly transparent?: TransparentMode;
  readonly backlog?: number;
}

export interface ConnectOptions {
  /** Local address to bind; with `spoof`, an address this namespace does not own (the client's). */
  readonly src?: string;
  /** IP_TRANSPARENT + IP_FREEBIND so `src` may be a foreign address (original source toward the app). */
  readonly spoof?: boolean;
  readonly timeoutMs?: number;
  /**
   * Keep the write half open after the peer's FIN (default true: relays carry half-close). Sockets under
   * TLS must not: node:tls ends its socket itself, and a half-open one would never close.
   */
  readonly allowHalfOpen?: boolean;
}

/** Why a connect failed: `kind` is what proxies map to their answers (SOCKS5 codes, 503, logs). */
export type ConnectFailure = "refused" | "timeout" | "unreachable" | "reset" | "failed";

export class ConnectError extends ZtError {
  constructor(readonly failure: ConnectFailure, readonly target: SocketAddr, readonly detail: string) {
    super("connect", `connect to ${formatSocketAddr(target.ip, target.port)}: ${detail}`);
  }
}

function failureOf(errno: number): ConnectFailure {
  switch (errno) {
    case E.ECONNREFUSED:
      return "refused";
    case E.ETIMEDOUT:
      return "timeout";
    case E.ENETUNREACH:
    case E.EHOSTUNREACH:
      return "unreachable";
    case E.ECONNRESET:
      return "reset";
    default:
      return "failed";
  }
}

let nextId = 1;

export class SocketFactory {
  readonly #o: SocketFactoryOptions;
  /** Distinguishes factories (a pod's from the node's) in pool keys. */
  readonly id = nextId++;

  constructor(opts: SocketFactoryOptions) {
    this.#o = opts;
  }

  get libc(): Libc {
    return this.#o.libc;
  }

  get netns(): NetNamespace | undefined {
    return this.#o.netns;
  }

  get mark(): number | undefined {
    return this.#o.mark;
  }

  /** A factory for a pod: its namespace, mark and SO_REUSEPORT choice, the rest shared. */
  forNamespace(
    netns: NetNamespace | undefined,
    mark: number | undefined,
    reusePort = this.#o.reusePort,
  ): SocketFactory {
    return new SocketFactory({ ...this.#o, netns, mark, reusePort });
  }

  /** TCP keepalive as configured (KEEPALIVE_*): for sockets accepted on capture listeners. */
  get keepalive(): KeepaliveOptions {
    return this.#o.keepalive ?? DEFAULT_KEEPALIVE;
  }

  /** A new socket in this factory's namespace, marked; closed again if `setup` throws. */
  #socket(family: number, type: number, setup: (fd: number) => void): number {
    const libc = this.#o.libc;
    if (this.#o.budget && !this.#o.budget.available) {
      throw new ZtError("fd_budget", `no descriptor left for a new socket (${this.#o.budget.inUse} in use)`);
    }
    const create = () => libc.sym.socket(family, type | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    const fd = libc.check(this.#o.netns ? this.#o.netns.run(create) : create(), "socket");
    try {
      if (this.#o.mark !== undefined) setMark(libc, fd, this.#o.mark);
      setup(fd);
      return fd;
    } catch (e) {
      libc.closeFd(fd);
      throw e;
    }
  }

  #bind(fd: number, addr: SocketAddr, family: number): void {
    const sa = encodeSockaddr(addr, family);
    this.#o.libc.check(
      this.#o.libc.sym.bind(fd, sa, sa.length),
      "bind",
      formatSocketAddr(addr.ip, addr.port),
    );
  }

  /** A listening TCP socket on `addr`, bound now (a failure throws SyscallError: EADDRINUSE, …). */
  listenTcp(addr: SocketAddr, opts: ListenOptions = {}): TcpListener {
    const libc = this.#o.libc;
    const family = familyOf(addr.ip);
    let transparent = false;
    const fd = this.#socket(family, C.SOCK_STREAM, (fd) => {
      setReuseAddr(libc, fd);
      if (this.#o.reusePort) setReusePort(libc, fd);
      transparent = setTransparent(libc, fd, family, opts.transparent ?? "off");
      this.#bind(fd, addr, family);
      libc.check(libc.sym.listen(fd, opts.backlog ?? 1024), "listen", formatSocketAddr(addr.ip, addr.port));
    });
    return new TcpListener(
      libc,
      this.#o.readiness,
      fd,
      this.#localAddr(fd) ?? addr,
      transparent,
      this.#o.budget,
    );
  }

  /** A connected TCP socket (node:net), or a ConnectError (refused, timeout, unreachable, …). */
  async connectTcp(dst: SocketAddr, opts: ConnectOptions = {}): Promise<net.Socket> {
    const libc = this.#o.libc;
    const family = familyOf(dst.ip);
    let fd: number;
    try {
      fd = this.#socket(family, C.SOCK_STREAM, (fd) => {
        if (opts.src !== undefined && opts.src !== dst.ip) {
          if (opts.spoof) {
            setTransparent(libc, fd, family, "require");
            setFreebind(libc, fd, family);
          }
          this.#bind(fd, { ip: opts.src, port: 0 }, family);
        }
        setNoDelay(libc, fd);
        setKeepalive(libc, fd, this.#o.keepalive ?? DEFAULT_KEEPALIVE);
      });
    } catch (e) {
      throw new ConnectError("failed", dst, e instanceof Error ? e.message : String(e));
    }
    try {
      const sa = encodeSockaddr(dst, family);
      if (libc.sym.connect(fd, sa, sa.length) !== 0) {
        const errno = libc.errno();
        if (errno !== E.EINPROGRESS) throw new ConnectError(failureOf(errno), dst, errnoText(errno));
        const timeout = opts.timeoutMs ?? this.#o.connectTimeoutMs ?? 10_000;
        const r = await this.#o.readiness.wait(fd, "write", timeout);
        if (r === "timeout") throw new ConnectError("timeout", dst, `timed out after ${timeout} ms`);
        if (r === "cancelled") throw new ConnectError("failed", dst, "cancelled");
        const err = socketError(libc, fd);
        if (err !== 0) throw new ConnectError(failureOf(err), dst, errnoText(err));
      }
      const allowHalfOpen = opts.allowHalfOpen ?? true;
      const s = new net.Socket(
        { fd, readable: true, writable: true, allowHalfOpen } as net.SocketConstructorOpts,
      );
      this.#o.budget?.hold(s);
      return s;
    } catch (e) {
      libc.closeFd(fd);
      throw e;
    }
  }

  /** A bound UDP socket (node:dgram) on `addr`, marked, with SO_REUSEPORT when configured. */
  bindUdp(addr: SocketAddr): dgram.Socket {
    const libc = this.#o.libc;
    const family = familyOf(addr.ip);
    const fd = this.#socket(family, C.SOCK_DGRAM, (fd) => {
      if (this.#o.reusePort) setReusePort(libc, fd);
      this.#bind(fd, addr, family);
    });
    try {
      const s = adoptUdpSocket(fd, family === C.AF_INET6 ? 6 : 4);
      const release = this.#o.budget?.take();
      if (release) s.once("close", release);
      return s;
    } catch (e) {
      libc.closeFd(fd);
      throw e;
    }
  }

  #localAddr(fd: number): SocketAddr | undefined {
    return localAddress(this.#o.libc, fd);
  }
}
