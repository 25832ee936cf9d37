/**
 * SOCKS5 entry for one local pod (<podIP>:15080, or 127.0.0.1:15080 in the pod's namespace): the pod
 * that owns the listener is the source. Domain targets resolve exactly as that pod's DNS proxy would
 * answer them (mesh names by zt, the rest upstream: lib/dns/name_resolver.ts). The reply is sent once
 * the upstream is up.
 */
import type net from "node:net";
import type { Logger } from "../log/logger.ts";
import type { TcpListener } from "../net/tcp_listener.ts";
import type { Workload } from "../state/types.ts";
import { canonicalIp, formatSocketAddr } from "../state/ip.ts";
import { errorMessage } from "../error.ts";
import type { OutboundContext, OutboundOutcome, OutboundProxy } from "./outbound.ts";
import { formatTarget, readSocks5Request, sendReply, Socks5Reply, type Socks5Target } from "./socks5.ts";

export interface Socks5ServerOptions {
  /** The listener (made by the pod's socket factory). */
  readonly listener: TcpListener;
  /** The pod this listener belongs to (looked up again per connection: the config may change). */
  readonly source: () => Workload | undefined;
  /** Where its outbound connections start (the pod's socket factory). */
  readonly context: OutboundContext;
  readonly outbound: OutboundProxy;
  /** The node's name resolver, shared with its DNS proxies (lib/dns/name_resolver.ts). */
  readonly resolveName: (src: Workload, host: string) => Promise<readonly string[]>;
  readonly log: Logger;
  /** A client whose SOCKS5 handshake was bad (counted by the caller). */
  readonly onRejected?: (reason: string) => void;
  /** An accept that failed (EMFILE, …): the listener goes on (counted by the caller). */
  readonly onAcceptError?: (errno: string) => void;
  /** A handshake must complete within this; a stalled client is closed (default 10 s). */
  readonly handshakeTimeoutMs?: number;
}

/** SOCKS5 reply code for an outbound outcome. */
export function replyFor(o: OutboundOutcome): number {
  switch (o.kind) {
    case "ok":
      return Socks5Reply.SUCCEEDED;
    case "denied":
      return Socks5Reply.NOT_ALLOWED;
    case "unavailable":
    case "refused":
      return Socks5Reply.CONNECTION_REFUSED;
    case "no_route":
      return Socks5Reply.HOST_UNREACHABLE;
    case "failed":
      return Socks5Reply.GENERAL_FAILURE;
  }
}

export class Socks5Server {
  constructor(readonly opts: Socks5ServerOptions) {}

  /** Starts accepting. */
  listen(): void {
    this.opts.listener.serve({
      onConnection: ({ socket }) => {
        // Live connections are tracked (and drained) by the connection manager, not here.
        this.#serve(socket).catch((e) => {
          this.opts.log.warn("socks5 failed", { error: errorMessage(e) });
          socket.destroy();
        });
      },
      onAcceptError: (errno) => {
        this.opts.log.warn("socks5 accept failed", { error: errno });
        this.opts.onAcceptError?.(errno);
      },
    });
  }

  get address(): { ip: string; port: number } {
    return this.opts.listener.address;
  }

  async #serve(conn: net.Socket): Promise<void> {
    const o = this.opts;
    conn.on("error", () => {}); // errors are seen by whoever reads; never an uncaught event
    const src: Workload | undefined = o.source();
    let req;
    const timer = setTimeout(
      () => conn.destroy(new Error("SOCKS5 handshake timed out")),
      o.handshakeTimeoutMs ?? 10_000,
    );
    try {
      req = await readSocks5Request(conn);
    } catch (e) {
      o.log.warn("connection failed", {
        "src.addr": addr(conn),
        direction: "outbound",
        error: errorMessage(e),
      });
      o.onRejected?.(errorMessage(e));
      conn.destroy();
      return;
    } finally {
      clearTimeout(timer);
    }
    if (!src) {
      await sendReply(conn, Socks5Reply.GENERAL_FAILURE).catch(() => {});
      conn.destroy();
      o.log.warn("connection failed", {
        "src.addr": addr(conn),
        error: "failed to fetch information about local workload",
      });
      return;
    }
    const dst = await this.#resolve(req.target, src);
    if (!dst) {
      o.log.warn("connection failed", {
        "src.addr": addr(conn),
        "dst.addr": formatTarget(req.target),
        direction: "outbound",
        error: `cannot resolve ${formatTarget(req.target)}`,
      });
      await sendReply(conn, Socks5Reply.HOST_UNREACHABLE).catch(() => {});
      conn.destroy();
      return;
    }
    await o.outbound.handle(
      o.context,
      src,
      conn,
      dst,
      (outcome) => sendReply(conn, replyFor(outcome)),
      req.rest,
    );
  }

  async #resolve(t: Socks5Target, src: Workload): Promise<{ ip: string; port: number } | undefined> {
    if (t.kind === "ip") return { ip: t.ip, port: t.port };
    const literal = canonicalIp(t.host.replace(/^\[|\]$/g, ""));
    if (literal) return { ip: literal, port: t.port };
    const ips = await this.opts.resolveName(src, t.host).catch(() => []);
    return ips.length ? { ip: ips[0], port: t.port } : undefined;
  }

  /** Stops accepting; live connections are drained by the connection manager. */
  close(): void {
    this.opts.listener.close();
  }
}

function addr(conn: net.Socket): string {
  return formatSocketAddr(
    canonicalIp(conn.remoteAddress ?? "") ?? conn.remoteAddress ?? "",
    conn.remotePort ?? 0,
  );
}
