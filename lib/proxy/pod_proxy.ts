/**
 * One pod's proxies, built from that pod's socket factory, as ztunnel's proxy factory builds them:
 * inbound HBONE (15008), and where traffic is captured inside the pod's netns, outbound (15001) and
 * inbound plaintext (15006); SOCKS5 (15080) when enabled. The same unit serves every placement:
 * - `ip`: listeners on the pod's own IP in zt's netns (standalone loopback mode; node-level TPROXY, where
 *   the HBONE listener is made transparent);
 * - `netns`: listeners inside the pod's network namespace (in-pod mode, istio-cni's ZDS).
 * Binding is synchronous: `start()` throws when a port cannot be bound, with nothing left open.
 */
import type net from "node:net";
import { HBONE_PORT, INBOUND_PLAINTEXT_PORT, OUTBOUND_PORT, SOCKS5_PORT } from "../config/ports.ts";
import type { Logger } from "../log/logger.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import { originalDst } from "../net/socket_info.ts";
import type { TcpListener } from "../net/tcp_listener.ts";
import type { TransparentMode } from "../net/socket_options.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import type { Workload } from "../state/types.ts";
import { canonicalIp, formatSocketAddr } from "../state/ip.ts";
import { HboneServer, type InboundTunnel } from "../tunnel/hbone_server.ts";
import type { H2Options } from "../tunnel/h2/session.ts";
import type { TlsBackend } from "../tunnel/secure_channel.ts";
import { errorMessage } from "../error.ts";
import type { InboundContext } from "./inbound.ts";
import type { InboundPlaintext } from "./inbound_plaintext.ts";
import type { OutboundContext, OutboundProxy } from "./outbound.ts";
import { Socks5Server } from "./socks5_server.ts";
import type { ProxyState } from "../state/proxy_state.ts";

export type PodPlacement =
  | { readonly kind: "ip"; readonly ip: string; readonly transparentHbone: boolean }
  | { readonly kind: "netns"; readonly ipv6: boolean };

/** Starts a pod's DNS proxy on 15053 (lib/dns), bound now; a throw stops the pod. */
export type DnsStarter = (pod: {
  readonly uid: string;
  readonly factory: SocketFactory;
  /** The pod's IP where its proxies live on it (loopback mode); undefined inside its own netns. */
  readonly ip?: string;
  readonly inOwnNamespace: boolean;
  readonly workload: () => Workload | undefined;
}) => { close(): void };

/** What the pod's proxies hand their connections to (shared by every pod of the node). */
export interface PodHandlers {
  readonly state: ProxyState;
  readonly outbound: OutboundProxy;
  readonly plaintext: InboundPlaintext;
  readonly onTunnel: (ctx: InboundContext, t: InboundTunnel) => void;
  /** The node's name resolver (shared with the DNS proxies): SOCKS5's domain targets. */
  readonly resolveName: (src: Workload, host: string) => Promise<readonly string[]>;
  /** The DNS proxy (when ISTIO_META_DNS_CAPTURE leaves it on). */
  readonly startDns?: DnsStarter;
}

export interface PodProxyOptions {
  readonly uid: string;
  readonly factory: SocketFactory;
  readonly placement: PodPlacement;
  /** The pod's xDS workload now (undefined while xDS does not know it). */
  readonly workload: () => Workload | undefined;
  /** Waits up to `ms` for the workload (ztunnel's wait_for_workload: 5 s). */
  readonly waitWorkload: (ms: number) => Promise<Workload | undefined>;
  readonly handlers: PodHandlers;
  readonly h2: H2Options;
  readonly tls?: TlsBackend;
  readonly socks5: boolean;
  readonly log: Logger;
  /** IP_TRANSPARENT on the pod's listeners (best effort in-pod: it enables keeping client addresses). */
  readonly transparent: TransparentMode;
  readonly onRejected?: (listener: "hbone" | "socks5", kind: string, reason: string) => void;
  readonly onAcceptError?: (listener: string, errno: string) => void;
}

const WORKLOAD_WAIT_MS = 5_000;

export class PodProxy {
  readonly #o: PodProxyOptions;
  #hbone?: HboneServer;
  #socks?: Socks5Server;
  #plain: TcpListener[] = [];
  #dns?: { close(): void };
  #stopped = false;
  /** Whether the pod's sockets can carry a client's address (IP_TRANSPARENT was permitted). */
  #spoof = false;

  constructor(opts: PodProxyOptions) {
    this.#o = opts;
  }

  get uid(): string {
    return this.#o.uid;
  }

  get hboneAddress(): { ip: string; port: number } | undefined {
    return this.#hbone?.address;
  }

  get socks5Address(): { ip: string; port: number } | undefined {
    return this.#socks?.address;
  }

  get #inbound(): InboundContext {
    return { factory: this.#o.factory, spoofSource: this.#spoof, podUid: this.#o.uid };
  }

  get #outbound(): OutboundContext {
    const p = this.#o.placement;
    const own = p.kind === "ip" && !p.transparentHbone ? { sourceIp: p.ip } : {};
    return { factory: this.#o.factory, podUid: this.#o.uid, ...own };
  }

  /** Binds every listener of the pod (throws, leaving nothing bound, when one cannot be bound). */
  start(cert?: WorkloadCertificate): void {
    const o = this.#o;
    const p = o.placement;
    const wildcard = p.kind === "netns" ? (p.ipv6 ? "::" : "0.0.0.0") : p.ip;
    try {
      // As ztunnel's proxy factory: the DNS server first, then 15008, 15006, 15001, SOCKS5.
      this.#dns = o.handlers.startDns?.({
        uid: o.uid,
        factory: o.factory,
        ip: p.kind === "ip" ? p.ip : undefined,
        inOwnNamespace: p.kind === "netns",
        workload: o.workload,
      });
      const hboneTransparent = p.kind === "ip" ? (p.transparentHbone ? "require" : "off") : o.transparent;
      const hl = o.factory.listenTcp({ ip: wildcard, port: HBONE_PORT }, { transparent: hboneTransparent });
      this.#spoof = p.kind === "netns" && hl.transparent;
      const inbound = this.#inbound;
      this.#hbone = new HboneServer({
        listener: hl,
        cert,
        h2: o.h2,
        log: o.log,
        tls: o.tls,
        onTunnel: (t) => o.handlers.onTunnel(inbound, t),
        onRejected: (kind, reason) => o.onRejected?.("hbone", kind, reason),
        onAcceptError: (errno) => o.onAcceptError?.("hbone", errno),
      });
      if (p.kind === "netns") {
        this.#serve(
          o.factory.listenTcp({ ip: wildcard, port: INBOUND_PLAINTEXT_PORT }, { transparent: o.transparent }),
          "inbound_plaintext",
          (s, fd) => this.#plaintext(s, fd),
        );
        this.#serve(
          o.factory.listenTcp({ ip: wildcard, port: OUTBOUND_PORT }, { transparent: o.transparent }),
          "outbound",
          (s, fd) => this.#outboundConn(s, fd),
        );
      }
      if (o.socks5) {
        const ip = p.kind === "netns" ? "127.0.0.1" : p.ip;
        this.#socks = new Socks5Server({
          listener: o.factory.listenTcp({ ip, port: SOCKS5_PORT }),
          source: () => o.workload(),
          outbound: o.handlers.outbound,
          context: this.#outbound,
          resolveName: o.handlers.resolveName,
          log: o.log,
          onRejected: (reason) => o.onRejected?.("socks5", "handshake", reason),
          onAcceptError: (errno) => o.onAcceptError?.("socks5", errno),
        });
      }
    } catch (e) {
      this.#closeListeners();
      throw e;
    }
    this.#hbone.listen();
    this.#socks?.listen();
  }

  #serve(l: TcpListener, name: string, handle: (s: net.Socket, fd: number) => void): void {
    this.#plain.push(l);
    l.serve({
      keepalive: this.#o.factory.keepalive, // ztunnel: NODELAY + keepalive on 15001/15006
      onConnection: ({ socket, fd }) => handle(socket, fd),
      onAcceptError: (errno) => {
        this.#o.log.warn("accept failed", { listener: name, error: errno });
        this.#o.onAcceptError?.(name, errno);
      },
    });
  }

  /** A connection the pod started, REDIRECTed to 15001: its original destination, then outbound. */
  #outboundConn(socket: net.Socket, fd: number): void {
    const o = this.#o;
    socket.on("error", () => {});
    const dst = originalDst(o.factory.libc, fd);
    if (!dst) return void socket.destroy();
    const src = o.workload();
    const go = (w: Workload | undefined) => {
      if (!w) {
        o.log.warn("connection failed", {
          "src.addr": formatSocketAddr(canonicalIp(socket.remoteAddress ?? "") ?? "", socket.remotePort ?? 0),
          "dst.addr": formatSocketAddr(dst.ip, dst.port),
          direction: "outbound",
          error: "failed to fetch information about local workload",
        });
        return void socket.destroy();
      }
      o.handlers.outbound.handle(this.#outbound, w, socket, dst, () => Promise.resolve()).catch((e) => {
        o.log.warn("connection failed", { direction: "outbound", error: errorMessage(e) });
        socket.destroy();
      });
    };
    if (src) return go(src);
    socket.pause();
    o.waitWorkload(WORKLOAD_WAIT_MS).then(go);
  }

  /** A plaintext connection to the pod, REDIRECTed to 15006: its original destination, then inbound. */
  #plaintext(socket: net.Socket, fd: number): void {
    const o = this.#o;
    socket.on("error", () => {});
    const dst = originalDst(o.factory.libc, fd);
    if (!dst) return void socket.destroy();
    o.handlers.plaintext.handle(this.#inbound, socket, dst).catch((e) => {
      o.log.warn("connection failed", { direction: "inbound", error: errorMessage(e) });
      socket.destroy();
    });
  }

  /** A new certificate for the pod's identity: new handshakes use it. */
  updateCertificate(cert: WorkloadCertificate): void {
    this.#hbone?.updateCertificate(cert);
  }

  get hasCertificate(): boolean {
    return this.#hbone?.hasCertificate ?? false;
  }

  #closeListeners(): void {
    this.#dns?.close();
    this.#socks?.close();
    for (const l of this.#plain) l.close();
    this.#plain = [];
  }

  /**
   * Stops the pod. `graceful`: stop accepting and GOAWAY, live connections finish on their own (the
   * node's drain deadline ends them); `immediate`: everything closes now (the caller aborts the pod's
   * tracked connections).
   */
  stop(mode: "graceful" | "immediate"): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#closeListeners();
    if (mode === "graceful") this.#hbone?.drain();
    else this.#hbone?.close();
  }

  closed(): Promise<void> {
    return this.#hbone?.closed() ?? Promise.resolve();
  }
}
