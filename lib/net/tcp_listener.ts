/**
 * A TCP listener on a socket zt made itself (lib/net/socket_factory.ts), with its own accept loop:
 * `accept4` on readiness, each connection handed to node:net (Deno drives its I/O). Unlike node:net's
 * native accept loop, which stops for good on the first EMFILE, this one logs, counts, backs off and
 * goes on accepting — a listener never dies while it is open.
 */
import net from "node:net";
import { C, E, errnoName, type Libc } from "./libc.ts";
import type { Readiness } from "./readiness.ts";
import { type KeepaliveOptions, setKeepalive, setNoDelay } from "./socket_options.ts";
import type { SocketAddr } from "../state/ip.ts";
import type { FdBudget } from "./fd_budget.ts";

/** An accepted connection: the node socket and its fd (for SO_ORIGINAL_DST and other options). */
export interface Accepted {
  readonly socket: net.Socket;
  readonly fd: number;
}

export interface TcpListenerOptions {
  /** Called for every accepted connection (the callee owns the socket). */
  readonly onConnection: (c: Accepted) => void;
  /** An accept that failed (the listener goes on): errno's name, e.g. "EMFILE". */
  readonly onAcceptError?: (errno: string) => void;
  /** Accepted sockets get TCP keepalive with these settings (ztunnel: on 15001/15006). */
  readonly keepalive?: KeepaliveOptions;
  /** Keep the write half open after the client's FIN (default true; false for sockets under TLS). */
  readonly allowHalfOpen?: boolean;
}

/** Errors that say "try again later" (resources), after a pause. */
const BACKOFF_ERRNOS: ReadonlySet<number> = new Set([E.EMFILE, E.ENFILE, E.ENOBUFS, E.ENOMEM]);
const MIN_BACKOFF_MS = 20;
const MAX_BACKOFF_MS = 1000;
/** Accepts per wake-up before yielding to the event loop. */
const BATCH = 64;

export class TcpListener {
  readonly #libc: Libc;
  readonly #readiness: Readiness;
  #fd: number;
  #opts?: TcpListenerOptions;
  #closed = false;
  #backoff = 0;
  #timer?: ReturnType<typeof setTimeout>;
  readonly #budget?: FdBudget;
  readonly #releaseFd?: () => void;
  /** The budget was spent at the last accept (reported once per episode). */
  #starved = false;
  #resume?: () => void;

  /**
   * Takes ownership of `fd`, a bound, listening, non-blocking socket. `transparent`: IP_TRANSPARENT is
   * set on it (TPROXY delivery; connections to the app may keep the client's address).
   */
  constructor(
    libc: Libc,
    readiness: Readiness,
    fd: number,
    readonly address: SocketAddr,
    readonly transparent = false,
    budget?: FdBudget,
  ) {
    this.#libc = libc;
    this.#readiness = readiness;
    this.#fd = fd;
    this.#budget = budget;
    this.#releaseFd = budget?.take();
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts accepting. */
  serve(opts: TcpListenerOptions): void {
    if (this.#opts) throw new Error("listener already serving");
    this.#opts = opts;
    this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      if (this.#budget && !this.#budget.available) {
        // Out of descriptors: leave new connections in the kernel's backlog until sockets close.
        if (!this.#starved) this.#opts?.onAcceptError?.("fd_budget");
        this.#starved = true;
        await this.#budget.whenAvailable();
        if (this.#closed) return;
      }
      this.#starved = false;
      const r = await this.#readiness.wait(this.#fd, "read");
      if (r === "cancelled" || this.#closed) return;
      const pause = this.#acceptBatch();
      if (pause > 0) {
        await new Promise<void>((resolve) => {
          this.#resume = resolve;
          this.#timer = setTimeout(resolve, pause);
        });
        this.#timer = this.#resume = undefined;
      }
    }
  }

  /** Accepts what is pending; returns how long to pause (0: wait for readiness again). */
  #acceptBatch(): number {
    const o = this.#opts!;
    for (let i = 0; i < BATCH && !this.#closed; i++) {
      if (this.#budget && !this.#budget.available) break;
      const fd = this.#libc.sym.accept4(this.#fd, null, null, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
      if (fd < 0) {
        const errno = this.#libc.errno();
        if (errno === E.EAGAIN) break;
        if (errno === E.EINTR) continue;
        o.onAcceptError?.(errnoName(errno));
        if (BACKOFF_ERRNOS.has(errno)) {
          this.#backoff = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.#backoff * 2));
          return this.#backoff;
        }
        continue; // ECONNABORTED, EPROTO, ...: that connection is gone, the next may be fine
      }
      this.#backoff = 0;
      let socket: net.Socket;
      try {
        setNoDelay(this.#libc, fd);
        if (o.keepalive) setKeepalive(this.#libc, fd, o.keepalive);
        socket = new net.Socket(
          { fd, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts,
        );
      } catch {
        this.#libc.closeFd(fd);
        o.onAcceptError?.("adopt");
        continue;
      }
      this.#budget?.hold(socket);
      o.onConnection({ socket, fd });
    }
    return 0;
  }

  /** Stops accepting and closes the listening socket (accepted connections are not touched). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#resume?.();
    this.#readiness.cancel(this.#fd);
    this.#libc.closeFd(this.#fd);
    this.#fd = -1;
    this.#releaseFd?.();
  }
}
