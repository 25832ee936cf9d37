/**
 * Transparent capture listeners in the node's network namespace (ZT_CAPTURE=tproxy): 15001 takes the
 * outbound connections of captured pods, 15006 the plaintext connections to them. Both are plain
 * Deno.listen sockets made IP_TRANSPARENT once at start-up (lib/proxy/transparent_socket.ts), so the
 * TPROXY rules of `zt redirect` can hand them connections for any address; each accepted connection's
 * `localAddr` is its original destination, read at no extra cost. The per-pod HBONE listeners
 * (<podIP>:15008, lib/proxy/pod_proxies.ts) are made transparent through `makeTransparent`.
 */
import type { Logger } from "../log/logger.ts";
import { canonicalIp, formatSocketAddr } from "../state/ip.ts";
import { errorMessage, ZtError } from "../error.ts";
import { closeQuietly } from "./copy.ts";
import type { InboundDeps } from "./inbound.ts";
import { InboundPlaintext } from "./inbound_plaintext.ts";
import type { OutboundProxy } from "./outbound.ts";
import { type ListenerAddr, TransparentSockets } from "./transparent_socket.ts";

export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_PLAINTEXT_PORT = 15006;

/** ZT_CAPTURE: `none` (SOCKS5 only, the default) or `tproxy`. */
export type CaptureMode = "none" | "tproxy";

export interface CaptureListenersOptions {
  /** The node's outbound proxy (as built for SOCKS5). */
  readonly outbound: OutboundProxy;
  /** The inbound dependencies (as built for the HBONE inbound proxy): state, node, RBAC, tracking. */
  readonly inbound: InboundDeps;
  readonly log: Logger;
  /** Address the capture listeners bind (default 0.0.0.0: TPROXY delivers any destination). */
  readonly bindHost?: string;
  readonly outboundPort?: number;
  readonly inboundPort?: number;
  /** Absolute libc path for the FFI (default: the distribution's). */
  readonly libcPath?: string;
}

interface Listening {
  readonly listener: Deno.TcpListener;
  readonly loop: Promise<void>;
}

export class CaptureListeners {
  readonly #opts: CaptureListenersOptions;
  readonly #plaintext: InboundPlaintext;
  #sockets?: TransparentSockets;
  #listeners: Listening[] = [];

  constructor(opts: CaptureListenersOptions) {
    this.#opts = opts;
    this.#plaintext = new InboundPlaintext(opts.inbound);
  }

  /** The bound addresses (after start). */
  get addresses(): { outbound?: Deno.NetAddr; inbound?: Deno.NetAddr } {
    const [o, i] = this.#listeners.map((l) => l.listener.addr as Deno.NetAddr);
    return { outbound: o, inbound: i };
  }

  #transparent(): TransparentSockets {
    return this.#sockets ??= TransparentSockets.open(this.#opts.libcPath);
  }

  /** Makes an already-bound listener (a pod's HBONE server) transparent. Throws a ZtError if not permitted. */
  makeTransparent(addr: { ip: string; port: number }): void {
    this.#transparent().makeListenerTransparent({ hostname: addr.ip, port: addr.port });
  }

  /** Binds 15001 and 15006 and makes them transparent; fails (ZtError) without CAP_NET_ADMIN. */
  start(): void {
    const o = this.#opts;
    const host = o.bindHost ?? "0.0.0.0";
    checkNonlocalBind();
    try {
      const out = this.#listen({ hostname: host, port: o.outboundPort ?? OUTBOUND_CAPTURE_PORT });
      this.#listeners.push({
        listener: out,
        loop: this.#acceptLoop(out, (c) => this.#outbound(c), "outbound"),
      });
      const inb = this.#listen({ hostname: host, port: o.inboundPort ?? INBOUND_PLAINTEXT_PORT });
      this.#listeners.push({
        listener: inb,
        loop: this.#acceptLoop(inb, (c) => this.#inbound(c), "inbound"),
      });
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

  #listen(addr: ListenerAddr): Deno.TcpListener {
    const l = Deno.listen({ hostname: addr.hostname, port: addr.port, transport: "tcp" });
    try {
      this.#transparent().makeListenerTransparent({
        hostname: addr.hostname,
        port: (l.addr as Deno.NetAddr).port,
      });
    } catch (e) {
      l.close();
      throw e;
    }
    return l;
  }

  async #acceptLoop(
    l: Deno.TcpListener,
    serve: (c: Deno.TcpConn) => Promise<void>,
    what: string,
  ): Promise<void> {
    try {
      for await (const conn of l) {
        conn.setNoDelay(true);
        serve(conn).catch((e) => {
          this.#opts.log.warn("connection failed", { direction: what, error: errorMessage(e) });
          closeQuietly(conn);
        });
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) {
        this.#opts.log.error("capture accept failed", { listener: what, error: errorMessage(e) });
      }
    }
  }

  /** A captured pod's connection: the source pod by its IP, the original destination from localAddr. */
  async #outbound(conn: Deno.TcpConn): Promise<void> {
    const { state, node } = this.#opts.inbound;
    const peer = conn.remoteAddr as Deno.NetAddr;
    const local = conn.localAddr as Deno.NetAddr;
    const srcIp = canonicalIp(peer.hostname) ?? peer.hostname;
    const dst = { ip: canonicalIp(local.hostname) ?? local.hostname, port: local.port };
    const src = state.workloadsWithIp(srcIp).find((w) => w.node === node);
    if (!src) {
      this.#opts.log.warn("connection failed", {
        "src.addr": formatSocketAddr(srcIp, peer.port),
        "dst.addr": formatSocketAddr(dst.ip, dst.port),
        direction: "outbound",
        error: "failed to fetch information about local workload",
      });
      closeQuietly(conn);
      return;
    }
    await this.#opts.outbound.handle(src, conn, dst, () => Promise.resolve());
  }

  #inbound(conn: Deno.TcpConn): Promise<void> {
    return this.#plaintext.handle(conn);
  }

  /** Stops accepting; live connections are drained by the connection manager. */
  async drain(): Promise<void> {
    for (const l of this.#listeners) closeListener(l.listener);
    await Promise.all(this.#listeners.map((l) => l.loop));
  }

  close(): void {
    for (const l of this.#listeners) closeListener(l.listener);
    this.#sockets?.close();
    this.#sockets = undefined;
  }
}

/**
 * Pod HBONE listeners bind the pods' IPs, which are not the node's: that needs net.ipv4.ip_nonlocal_bind,
 * which `zt redirect install` sets with the rules. Checked by binding a documentation address (RFC 5737;
 * no packet is sent) so a node started before its rules fails now, clearly, not per pod later.
 */
function checkNonlocalBind(): void {
  let l: Deno.TcpListener;
  try {
    l = Deno.listen({ hostname: "192.0.2.1", port: 0 });
  } catch (e) {
    throw new ZtError(
      "capture",
      `cannot bind non-local addresses (${
        errorMessage(e)
      }): net.ipv4.ip_nonlocal_bind is off in this network namespace; run \`zt redirect install\` first`,
    );
  }
  l.close();
}

function closeListener(l: Deno.TcpListener): void {
  try {
    l.close();
  } catch {
    // already closed
  }
}

function formatAddr(a?: Deno.NetAddr): string | undefined {
  return a ? formatSocketAddr(a.hostname, a.port) : undefined;
}
