/**
 * Node-level transparent capture (ZT_CAPTURE=tproxy): listeners in the node's network namespace, made
 * IP_TRANSPARENT by the socket factory, so the TPROXY rules of `zt redirect` can hand them connections
 * for any address: 15001 takes the outbound connections of captured pods, 15006 the plaintext
 * connections to them. Each accepted connection's own address is its original destination (TPROXY does
 * not NAT). The pods' HBONE listeners are made transparent by lib/proxy/pod_proxies.ts.
 */
import type net from "node:net";
import type { Logger } from "../log/logger.ts";
import { canonicalIp, formatSocketAddr, type SocketAddr } from "../state/ip.ts";
import { ZtError } from "../error.ts";
import { INBOUND_PLAINTEXT_PORT, OUTBOUND_PORT } from "../config/ports.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import { localAddress } from "../net/socket_info.ts";
import type { TcpListener } from "../net/tcp_listener.ts";
import type { InboundDeps } from "./inbound.ts";
import { InboundPlaintext } from "./inbound_plaintext.ts";
import type { OutboundProxy } from "./outbound.ts";

/** ZT_CAPTURE: `none` (SOCKS5 or in-pod only, the default) or `tproxy` (node-level TPROXY). */
export type CaptureMode = "none" | "tproxy";

export interface CaptureListenersOptions {
  /** The node's outbound proxy. */
  readonly outbound: OutboundProxy;
  /** The inbound dependencies (as built for the HBONE inbound proxy): state, node, RBAC, tracking. */
  readonly inbound: InboundDeps;
  /** zt's own socket factory (the node's netns). */
  readonly factory: SocketFactory;
  readonly log: Logger;
  /** Address the capture listeners bind (default 0.0.0.0: TPROXY delivers any destination). */
  readonly bindHost?: string;
  readonly outboundPort?: number;
  readonly inboundPort?: number;
  readonly onAcceptError?: (listener: string, errno: string) => void;
}

export class CaptureListeners {
  readonly #opts: CaptureListenersOptions;
  readonly #plaintext: InboundPlaintext;
  #listeners: TcpListener[] = [];

  constructor(opts: CaptureListenersOptions) {
    this.#opts = opts;
    this.#plaintext = new InboundPlaintext(opts.inbound);
  }

  /** The bound addresses (after start). */
  get addresses(): { outbound?: SocketAddr; inbound?: SocketAddr } {
    const [o, i] = this.#listeners.map((l) => l.address);
    return { outbound: o, inbound: i };
  }

  /** Binds 15001 and 15006, transparent; fails (ZtError) without CAP_NET_ADMIN. */
  start(): void {
    const o = this.#opts;
    const host = o.bindHost ?? "0.0.0.0";
    checkNonlocalBind(o.factory);
    try {
      this.#listen(
        { ip: host, port: o.outboundPort ?? OUTBOUND_PORT },
        "outbound",
        (s, fd) => this.#outbound(s, fd),
      );
      this.#listen(
        { ip: host, port: o.inboundPort ?? INBOUND_PLAINTEXT_PORT },
        "inbound",
        (s, fd) => this.#inbound(s, fd),
      );
    } catch (e) {
      this.close();
      throw e;
    }
    o.log.info("capture listeners up", {
      outbound: formatAddr(this.addresses.outbound),
      inbound: formatAddr(this.addresses.inbound),
      mode: "tproxy",
    });
  }

  #listen(addr: SocketAddr, what: string, serve: (s: net.Socket, fd: number) => void): void {
    const l = this.#opts.factory.listenTcp(addr, { transparent: "require" });
    this.#listeners.push(l);
    l.serve({
      keepalive: this.#opts.factory.keepalive,
      onConnection: ({ socket, fd }) => {
        socket.on("error", () => {});
        serve(socket, fd);
      },
      onAcceptError: (errno) => {
        this.#opts.log.warn("capture accept failed", { listener: what, error: errno });
        this.#opts.onAcceptError?.(what, errno);
      },
    });
  }

  /** A captured pod's connection: the source pod by its IP, the original destination from the socket. */
  #outbound(conn: net.Socket, fd: number): void {
    const { state, node } = this.#opts.inbound;
    const srcIp = canonicalIp(conn.remoteAddress ?? "") ?? conn.remoteAddress ?? "";
    const dst = localAddress(this.#opts.factory.libc, fd);
    const src = state.workloadsWithIp(srcIp).find((w) => w.node === node);
    if (!src || !dst) {
      this.#opts.log.warn("connection failed", {
        "src.addr": formatSocketAddr(srcIp, conn.remotePort ?? 0),
        "dst.addr": dst ? formatSocketAddr(dst.ip, dst.port) : "unknown",
        direction: "outbound",
        error: "failed to fetch information about local workload",
      });
      conn.destroy();
      return;
    }
    const ctx = { factory: this.#opts.factory, podUid: src.uid };
    this.#opts.outbound.handle(ctx, src, conn, dst, () => Promise.resolve()).catch(() => conn.destroy());
  }

  #inbound(conn: net.Socket, fd: number): void {
    const dst = localAddress(this.#opts.factory.libc, fd);
    if (!dst) return void conn.destroy();
    const pod = this.#opts.inbound.state.workloadsWithIp(dst.ip).find((w) =>
      w.node === this.#opts.inbound.node
    );
    const ctx = { factory: this.#opts.factory, spoofSource: false, podUid: pod?.uid ?? "" };
    this.#plaintext.handle(ctx, conn, dst).catch(() => conn.destroy());
  }

  /** Stops accepting; live connections are drained by the connection manager. */
  drain(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  close(): void {
    for (const l of this.#listeners) l.close();
  }
}

/**
 * Pod HBONE listeners bind the pods' IPs, which are not the node's: that needs net.ipv4.ip_nonlocal_bind,
 * which `zt redirect install` sets with the rules. Checked by binding a documentation address (RFC 5737;
 * no packet is sent) so a node started before its rules fails now, clearly, not per pod later.
 */
function checkNonlocalBind(factory: SocketFactory): void {
  let l: TcpListener;
  try {
    l = factory.listenTcp({ ip: "192.0.2.1", port: 0 });
  } catch (e) {
    throw new ZtError(
      "capture",
      `cannot bind non-local addresses (${
        (e as Error).message
      }): net.ipv4.ip_nonlocal_bind is off in this network namespace; run \`zt redirect install\` first`,
    );
  }
  l.close();
}

function formatAddr(a?: SocketAddr): string | undefined {
  return a ? formatSocketAddr(a.ip, a.port) : undefined;
}
