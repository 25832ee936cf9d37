/**
 * HBONE server for one local pod: mTLS on :15008 with the pod's certificate, HTTP/2, one CONNECT stream
 * per tunnelled connection. Connections come from a listener the pod's socket factory made (in the
 * pod's netns, or on the pod's IP); node:tls does the handshake for each (`emit("connection")`: its
 * client-certificate checks and handshake timeout, without its accept loop). It authenticates peers;
 * what to do with a stream (route, authorize, connect) is the inbound proxy's decision (`onTunnel`).
 */
import type net from "node:net";
import tls from "node:tls";
import type { TcpListener } from "../net/tcp_listener.ts";
import { SocketConn } from "../net/socket_conn.ts";
import { tieToTransport, transportOf } from "./tls_transport.ts";
import { formatIdentity, type Identity } from "../identity/spiffe.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../error.ts";
import { checkPeerTrustDomain, identityOf, tlsOptions } from "./tls.ts";
import { nodeChannel, openSslChannel, type SecureChannel, type TlsBackend } from "./secure_channel.ts";
import { TlsContext } from "./openssl/openssl_context.ts";
import { OpenSslSocket } from "./openssl/openssl_socket.ts";
import { type H2Options, H2Session } from "./h2/session.ts";
import type { H2Stream, Headers } from "./h2/stream.ts";
import type { H2ViolationKind } from "./h2/h2_error.ts";
import { canonicalIp } from "../state/ip.ts";

/** A CONNECT stream that arrived, with the connection facts the inbound proxy decides on. */
export interface InboundTunnel {
  readonly stream: H2Stream;
  readonly headers: Headers;
  readonly peerIdentity: Identity;
  readonly peerAddr: { ip: string; port: number };
  readonly localAddr: { ip: string; port: number };
  /** Sends the response status (200 keeps the stream open; anything else ends it). */
  respond(status: number, extra?: Headers): void;
}

export interface HboneServerOptions {
  /** Where connections come from (made by the pod's socket factory). */
  readonly listener: TcpListener;
  /**
   * The pod's certificate. Absent when the pod's workload is not known yet (in-pod mode: istio-cni may
   * add a pod before xDS has it): connections then wait for `updateCertificate`, up to
   * `certificateWaitMs`, and are dropped after it (ztunnel's UnknownWorkload).
   */
  readonly cert?: WorkloadCertificate;
  readonly certificateWaitMs?: number;
  readonly h2: H2Options;
  readonly log: Logger;
  readonly onTunnel: (t: InboundTunnel) => void;
  /**
   * Bad input, refused: `tls` for failed handshakes (bad, missing or foreign certificates, wrong trust
   * domain, not TLS at all), `h2` for HTTP/2 protocol errors that closed a connection.
   */
  /** A refused or dropped peer: `tls` (handshake, identity, draining) or `h2_<H2ViolationKind>`. */
  readonly onRejected?: (kind: "tls" | `h2_${H2ViolationKind}`, reason: string) => void;
  /** Which TLS terminates the connections (default node:tls). */
  readonly tls?: TlsBackend;
  /** A TLS handshake must finish within this (default 10 s); a stalled peer is dropped. */
  readonly handshakeTimeoutMs?: number;
  /** An accept that failed (EMFILE, …): the listener goes on (counted by the caller). */
  readonly onAcceptError?: (errno: string) => void;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;
const CERTIFICATE_WAIT_MS = 5_000;

export class HboneServer {
  #server?: tls.Server;
  #ctx?: TlsContext;
  #sessions = new Set<H2Session>();
  #trustDomain = "";
  #draining = false;
  /** Connections that arrived before the pod had a certificate. */
  #waiting = new Set<{ socket: net.Socket; timer: ReturnType<typeof setTimeout> }>();

  constructor(readonly opts: HboneServerOptions) {
    if (opts.cert) this.updateCertificate(opts.cert);
  }

  #createServer(cert: WorkloadCertificate): void {
    if (this.opts.tls === "openssl") {
      this.#ctx = TlsContext.create(cert, "server");
      return;
    }
    this.#server = tls.createServer({
      ...tlsOptions(cert),
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    });
    this.#server.on("secureConnection", (socket: tls.TLSSocket) => {
      const transport = transportOf(socket);
      if (transport) tieToTransport(socket, transport);
      this.#accept(nodeChannel(socket));
    });
    // Deno reports a handshake timeout here but leaves the connection open (Node destroys it): close
    // the TLS socket and the socket under it, whatever the failure.
    this.#server.on("tlsClientError", (err: Error, socket?: tls.TLSSocket) => {
      if (socket) {
        socket.destroy();
        transportOf(socket)?.destroy();
      }
      this.#handshakeFailed(err);
    });
  }

  get hasCertificate(): boolean {
    return this.#server !== undefined || this.#ctx !== undefined;
  }

  #handshakeFailed(err: unknown): void {
    this.opts.log.debug("tls handshake failed", {
      error: errorMessage(err),
      listener: `${this.address.ip}:${this.address.port}`,
    });
    this.opts.onRejected?.("tls", errorMessage(err));
  }

  /** Starts accepting connections. */
  listen(): Promise<void> {
    this.opts.listener.serve({
      allowHalfOpen: this.opts.tls === "openssl",
      onConnection: ({ socket }) => this.#connection(socket),
      onAcceptError: (errno) => {
        this.opts.log.warn("hbone accept failed", { error: errno, listener: this.#where() });
        this.opts.onAcceptError?.(errno);
      },
    });
    return Promise.resolve();
  }

  #connection(socket: net.Socket): void {
    if (this.#draining) return void socket.destroy();
    socket.on("error", () => {}); // a reset before the handshake: nothing to report but the close
    if (!this.hasCertificate) {
      socket.pause();
      const entry = {
        socket,
        timer: setTimeout(() => {
          this.#waiting.delete(entry);
          socket.destroy();
          this.opts.log.warn("connection failed", {
            "src.addr": `${socket.remoteAddress}:${socket.remotePort}`,
            error: "unknown workload: the pod has no certificate yet",
          });
          this.opts.onRejected?.("tls", "unknown workload");
        }, this.opts.certificateWaitMs ?? CERTIFICATE_WAIT_MS),
      };
      this.#waiting.add(entry);
      return;
    }
    if (!this.#ctx) {
      this.#server!.emit("connection", socket);
      return;
    }
    const timeout = this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    OpenSslSocket.connect(new SocketConn(socket), this.#ctx, "server", timeout).then(
      (sock) => this.#accept(openSslChannel(sock)),
      (e) => {
        socket.destroy();
        this.#handshakeFailed(e);
      },
    );
  }

  #where(): string {
    const a = this.address;
    return `${a.ip}:${a.port}`;
  }

  get address(): { ip: string; port: number } {
    return this.opts.listener.address;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Sets or rotates the certificate for new handshakes; live connections keep theirs. */
  updateCertificate(cert: WorkloadCertificate): void {
    this.#trustDomain = cert.identity.trustDomain;
    if (!this.hasCertificate) {
      this.#createServer(cert);
      const waiting = [...this.#waiting];
      this.#waiting.clear();
      for (const w of waiting) {
        clearTimeout(w.timer);
        w.socket.resume();
        this.#connection(w.socket);
      }
      return;
    }
    if (this.#ctx) {
      // Live connections hold their own reference inside OpenSSL; free the old context after a while.
      const old = this.#ctx;
      this.#ctx = TlsContext.create(cert, "server");
      setTimeout(() => old.close(), 60_000);
      return;
    }
    this.#server!.setSecureContext({ ...tlsOptions(cert) });
  }

  #accept(ch: SecureChannel): void {
    const socket = ch.socket;
    const peer = ch.peer;
    const refuse = checkPeerTrustDomain(ch, this.#trustDomain);
    if (refuse || this.#draining) {
      this.opts.log.warn("connection refused", {
        "src.addr": `${peer.ip}:${peer.port}`,
        error: refuse ?? "draining",
      });
      this.opts.onRejected?.("tls", refuse ?? "draining");
      socket.destroy();
      return;
    }
    const id = identityOf(ch.peerSans)!;
    const local = { ip: canonicalIp(ch.local.ip) ?? ch.local.ip, port: ch.local.port || this.address.port };
    const session = new H2Session(socket, "server", this.opts.h2);
    this.#sessions.add(session);
    // A peer that breaks a rule or passes a limit is dropped with GOAWAY: counted by kind, logged once.
    session.onViolation = (kind, detail) => {
      this.opts.log.warn("hbone connection dropped", {
        "src.addr": `${peer.ip}:${peer.port}`,
        "src.identity": formatIdentity(id),
        reason: kind,
        error: detail,
      });
      this.opts.onRejected?.(`h2_${kind}`, detail);
    };
    session.closed.then(() => this.#sessions.delete(session));
    session.onStream = (stream) => {
      this.opts.onTunnel({
        stream,
        headers: stream.requestHeaders,
        peerIdentity: id,
        peerAddr: peer,
        localAddr: local,
        respond: (status, extra = []) => {
          session.respond(stream, [[":status", String(status)], ...extra], status !== 200);
          if (status !== 200 && !stream.remoteEnded) stream.reset(0 /* NO_ERROR: we do not read more */);
        },
      });
    };
  }

  /** Stops accepting connections and sends GOAWAY on every session; streams finish on their own. */
  drain(): void {
    this.#draining = true;
    this.#stopListening();
    for (const s of this.#sessions) s.goaway();
  }

  /** Closes everything now. */
  close(): void {
    this.#draining = true;
    this.#stopListening();
    for (const s of this.#sessions) s.close();
    this.#sessions.clear();
    this.#ctx?.close();
  }

  #stopListening(): void {
    this.opts.listener.close();
    for (const w of this.#waiting) {
      clearTimeout(w.timer);
      w.socket.destroy();
    }
    this.#waiting.clear();
  }

  /** Resolves once every session has closed. */
  async closed(): Promise<void> {
    await Promise.all([...this.#sessions].map((s) => s.closed));
  }
}
