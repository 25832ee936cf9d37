/**
 * An established mTLS connection, whichever TLS does the work: `node` (node:tls, rustls inside Deno)
 * or `openssl` (libssl through FFI, lib/tunnel/openssl/). HBONE's server and client pool only see
 * this: the byte socket for HTTP/2 and the peer facts to check identities on.
 */
import type net from "node:net";
import tls from "node:tls";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import { ZtError } from "../error.ts";
import type { H2Socket } from "./h2/session.ts";
import { tlsOptions, uriSans } from "./tls.ts";
import { tieToTransport } from "./tls_transport.ts";
import { TlsContext } from "./openssl/openssl_context.ts";
import { OpenSslSocket } from "./openssl/openssl_socket.ts";
import { peerUriSans } from "./openssl/openssl_peer.ts";
import { ConnectError, type ConnectFailure, type SocketFactory } from "../net/socket_factory.ts";
import { SocketConn } from "../net/socket_conn.ts";
import { canonicalIp } from "../state/ip.ts";

export type TlsBackend = "node" | "openssl";

export interface SecureChannel {
  readonly socket: H2Socket;
  /** The peer's chain verified against the mesh roots (and a certificate was presented). */
  readonly authorized: boolean;
  readonly authorizationError?: string;
  /** URI SANs of the peer's leaf certificate. */
  readonly peerSans: readonly string[];
  readonly peer: { readonly ip: string; readonly port: number };
  readonly local: { readonly ip: string; readonly port: number };
}

/** An address as the state indexes it (v4-mapped IPv6 from a dual-stack listener becomes IPv4). */
function canonical(ip: string | undefined): string {
  return canonicalIp(ip ?? "") ?? ip ?? "";
}

/** The facts of a node:tls socket after its handshake. */
export function nodeChannel(s: tls.TLSSocket): SecureChannel {
  s.setNoDelay(true);
  return {
    socket: s,
    authorized: s.authorized,
    authorizationError: s.authorizationError ? String(s.authorizationError) : undefined,
    peerSans: uriSans(s.getPeerCertificate()),
    peer: { ip: canonical(s.remoteAddress), port: s.remotePort ?? 0 },
    local: { ip: canonical(s.localAddress), port: s.localPort ?? 0 },
  };
}

/** The facts of an OpenSSL socket after its handshake. */
export function openSslChannel(s: OpenSslSocket): SecureChannel {
  const info = s.peer;
  return {
    socket: s,
    authorized: info?.authorized ?? false,
    authorizationError: info?.authorizationError,
    peerSans: info ? peerUriSans(info) : [],
    peer: { ip: canonical(s.remoteAddr.hostname), port: s.remoteAddr.port },
    local: { ip: canonical(s.localAddr.hostname), port: s.localAddr.port },
  };
}

/**
 * Client-side OpenSSL contexts, one per source identity, rebuilt when its certificate rotates (the old
 * one is freed a minute later: live connections hold their own reference inside OpenSSL).
 */
export class ClientContexts {
  #byIdentity = new Map<string, { cert: WorkloadCertificate; ctx: TlsContext }>();
  #retiring = new Set<ReturnType<typeof setTimeout>>();

  get(cert: WorkloadCertificate): TlsContext {
    const key = `${cert.identity.trustDomain}/${cert.identity.namespace}/${cert.identity.serviceAccount}`;
    const cur = this.#byIdentity.get(key);
    if (cur && cur.cert.serialNumber === cert.serialNumber) return cur.ctx;
    const ctx = TlsContext.create(cert, "client");
    this.#byIdentity.set(key, { cert, ctx });
    if (cur) {
      const t = setTimeout(() => {
        this.#retiring.delete(t);
        cur.ctx.close();
      }, 60_000);
      this.#retiring.add(t);
    }
    return ctx;
  }

  close(): void {
    for (const t of this.#retiring) clearTimeout(t);
    this.#retiring.clear();
    for (const c of this.#byIdentity.values()) c.ctx.close();
    this.#byIdentity.clear();
  }
}

/** Why a dial failed: the TCP connect (refused, timeout, unreachable, …) or the TLS handshake. */
export type DialFailure = ConnectFailure | "tls";

export class DialError extends ZtError {
  constructor(readonly failure: DialFailure, message: string) {
    super(failure === "tls" ? "tls" : "connect", message);
  }
}

/**
 * Dials an mTLS connection with the source's certificate, over a TCP connection the source's socket
 * factory makes (its netns, its mark, its source address). The identity of the server is the caller's
 * to check (`peerSans`), as ztunnel's client checks SPIFFE ids, not host names.
 */
export async function dialSecure(
  backend: TlsBackend,
  target: { ip: string; port: number; srcIp?: string; cert: WorkloadCertificate; factory: SocketFactory },
  contexts: ClientContexts,
  timeoutMs: number,
): Promise<SecureChannel> {
  let tcp: net.Socket;
  try {
    tcp = await target.factory.connectTcp({ ip: target.ip, port: target.port }, {
      src: target.srcIp,
      timeoutMs,
      allowHalfOpen: backend === "openssl",
    });
  } catch (e) {
    if (e instanceof ConnectError) throw new DialError(e.failure, e.message);
    throw new DialError("failed", `${target.ip}:${target.port}: ${(e as Error).message}`);
  }
  if (backend === "openssl") {
    try {
      const sock = await OpenSslSocket.connect(
        new SocketConn(tcp),
        contexts.get(target.cert),
        "client",
        timeoutMs,
      );
      return openSslChannel(sock);
    } catch (e) {
      tcp.destroy();
      throw new DialError("tls", `${target.ip}:${target.port}: ${(e as Error).message}`);
    }
  }
  return await new Promise<SecureChannel>((resolve, reject) => {
    const socket = tls.connect({
      ...tlsOptions(target.cert),
      socket: tcp,
      rejectUnauthorized: true,
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DialError("timeout", `TLS handshake with ${target.ip}:${target.port} timed out`));
    }, timeoutMs);
    socket.once("error", (e: Error) => {
      clearTimeout(timer);
      tcp.destroy();
      reject(new DialError("tls", `${target.ip}:${target.port}: ${e.message}`));
    });
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      tieToTransport(socket, tcp);
      resolve(nodeChannel(socket));
    });
  });
}
