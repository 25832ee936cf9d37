/**
 * HBONE server for one local pod: mTLS on <podIP>:15008 with the pod's certificate, HTTP/2, one
 * CONNECT stream per tunnelled connection. It authenticates peers; what to do with a stream (route,
 * authorize, connect) is the inbound proxy's decision, handed over through `onTunnel`.
 */
import tls from "node:tls";
import type { Identity } from "../identity/spiffe.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../error.ts";
import { checkPeerTrustDomain, identityOf, tlsOptions } from "./tls.ts";
import { nodeChannel, openSslChannel, type SecureChannel, type TlsBackend } from "./secure_channel.ts";
import { TlsContext } from "./openssl/openssl_context.ts";
import { OpenSslSocket } from "./openssl/openssl_socket.ts";
import { type H2Options, H2Session } from "./h2/session.ts";
import type { H2Stream, Headers } from "./h2/stream.ts";
import { H2Error } from "./h2/h2_error.ts";
import { ErrorCode } from "./h2/frame.ts";

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
  readonly ip: string;
  readonly port: number;
  readonly cert: WorkloadCertificate;
  readonly h2: H2Options;
  readonly log: Logger;
  readonly onTunnel: (t: InboundTunnel) => void;
  /**
   * Bad input, refused: `tls` for failed handshakes (bad, missing or foreign certificates, wrong trust
   * domain, not TLS at all), `h2` for HTTP/2 protocol errors that closed a connection.
   */
  readonly onRejected?: (kind: "tls" | "h2", reason: string) => void;
  /** Which TLS terminates the connections (default node:tls). */
  readonly tls?: TlsBackend;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

export class HboneServer {
  #server?: tls.Server;
  #listener?: Deno.TcpListener;
  #ctx?: TlsContext;
  #sessions = new Set<H2Session>();
  #trustDomain: string;
  #draining = false;

  constructor(readonly opts: HboneServerOptions) {
    this.#trustDomain = opts.cert.identity.trustDomain;
    if (opts.tls === "openssl") {
      this.#ctx = TlsContext.create(opts.cert, "server");
      return;
    }
    this.#server = tls.createServer({
      ...tlsOptions(opts.cert),
      requestCert: true,
      rejectUnauthorized: true,
    });
    this.#server.on("secureConnection", (socket: tls.TLSSocket) => this.#accept(nodeChannel(socket)));
    this.#server.on("tlsClientError", (err: Error) => this.#handshakeFailed(err));
  }

  #handshakeFailed(err: unknown): void {
    this.opts.log.debug("tls handshake failed", {
      error: errorMessage(err),
      listener: `${this.opts.ip}:${this.opts.port}`,
    });
    this.opts.onRejected?.("tls", errorMessage(err));
  }

  listen(): Promise<void> {
    if (this.#ctx) {
      this.#listener = Deno.listen({ hostname: this.opts.ip, port: this.opts.port });
      this.#acceptLoop(this.#listener);
      return Promise.resolve();
    }
    const server = this.#server!;
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      server.once("error", onError);
      server.listen(this.opts.port, this.opts.ip, () => {
        server.off("error", onError);
        resolve();
      });
    });
  }

  async #acceptLoop(l: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of l) {
        conn.setNoDelay(true);
        OpenSslSocket.connect(conn, this.#ctx!, "server", HANDSHAKE_TIMEOUT_MS).then(
          (sock) => this.#accept(openSslChannel(sock)),
          (e) => this.#handshakeFailed(e),
        );
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) {
        this.opts.log.error("hbone accept failed", { error: errorMessage(e) });
      }
    }
  }

  get address(): { ip: string; port: number } {
    if (this.#listener) {
      const a = this.#listener.addr as Deno.NetAddr;
      return { ip: a.hostname, port: a.port };
    }
    const a = this.#server?.address();
    if (a && typeof a === "object") return { ip: a.address, port: a.port };
    return { ip: this.opts.ip, port: this.opts.port };
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Rotates the certificate for new handshakes; live connections keep theirs. */
  updateCertificate(cert: WorkloadCertificate): void {
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
    const local = { ip: ch.local.ip || this.opts.ip, port: ch.local.port || this.opts.port };
    const session = new H2Session(socket, "server", this.opts.h2);
    this.#sessions.add(session);
    session.closed.then(() => {
      this.#sessions.delete(session);
      const e = session.error;
      if (e instanceof H2Error && e.code !== ErrorCode.NO_ERROR) {
        this.opts.log.warn("hbone connection closed on a protocol error", {
          "src.addr": `${peer.ip}:${peer.port}`,
          error: e.message,
        });
        this.opts.onRejected?.("h2", e.message);
      }
    });
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
    this.#server?.close();
    try {
      this.#listener?.close();
    } catch { /* closed */ }
  }

  /** Resolves once every session has closed. */
  async closed(): Promise<void> {
    await Promise.all([...this.#sessions].map((s) => s.closed));
  }
}
