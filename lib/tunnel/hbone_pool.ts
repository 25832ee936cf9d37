/**
 * HBONE client: a pool of mTLS HTTP/2 connections keyed by (source identity and certificate,
 * expected destination identities, destination address), each carrying at most
 * POOL_MAX_STREAMS_PER_CONNECTION CONNECT streams, released after idling. Once a newer certificate of
 * a source identity is used, that identity's connections made with older ones are retired: no new
 * streams, closed when their last stream ends (`useCertificate`).
 */
import type { WorkloadCertificate } from "../identity/certificate.ts";
import { formatIdentity } from "../identity/spiffe.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage, ZtError } from "../error.ts";
import { checkServerIdentity } from "./tls.ts";
import {
  ClientContexts,
  DialError,
  type DialFailure,
  dialSecure,
  type TlsBackend,
} from "./secure_channel.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import { type H2Options, H2Session } from "./h2/session.ts";
import type { H2Stream, Headers } from "./h2/stream.ts";
import { H2ResponseTimeoutError } from "./h2/h2_error.ts";

export interface HboneTarget {
  /** The source workload's certificate, presented as the client certificate. */
  readonly cert: WorkloadCertificate;
  /** SPIFFE URIs the server may present (any one will do). */
  readonly expectedIdentities: readonly string[];
  /** Where to dial: <podIP or waypoint>:15008. */
  readonly ip: string;
  readonly port: number;
  /**
   * The source pod's IP, used as the local address when this host owns it (pods on loopback), so the
   * destination sees the real source as ztunnel's in-pod sockets give it. Part of the pool key.
   */
  readonly srcIp?: string;
  /** The source pod's socket factory: in-pod mode dials from the pod's netns, marked. Part of the key. */
  readonly factory: SocketFactory;
}

export interface HboneResponse {
  readonly stream: H2Stream;
  readonly status: number;
  readonly headers: Headers;
}

export interface HbonePoolOptions {
  readonly h2: H2Options;
  readonly maxStreamsPerConnection: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs?: number;
  /** A CONNECT without response headers in this long is reset (H2ResponseTimeoutError). Default 10 s. */
  readonly responseTimeoutMs?: number;
  readonly log: Logger;
  /** Which TLS dials the connections (default node:tls). */
  readonly tls?: TlsBackend;
}

/** Why a tunnel could not be opened: `failure` tells the proxy how to report it. */
export class HboneConnectError extends ZtError {
  constructor(readonly failure: DialFailure | "h2", message: string) {
    super(failure === "tls" || failure === "h2" ? failure : "connect", message);
  }
}

/** How long a CONNECT waits for its response before the tunnel counts as failed. */
const RESPONSE_TIMEOUT_MS = 10_000;

interface Entry {
  session: H2Session;
  /** Streams promised to callers that have not opened them yet. */
  reserved: number;
  idleTimer?: ReturnType<typeof setTimeout>;
  readonly key: string;
  /** The source identity (SPIFFE URI) and the certificate the connection was made with. */
  readonly source: string;
  readonly cert: WorkloadCertificate;
  /** A newer certificate replaced `cert`: out of the pool, closing once its streams end. */
  retired?: boolean;
}

/** Per source identity: the newest certificate seen and the connections not closed yet. */
interface SourceRecord {
  newest: WorkloadCertificate;
  live: Set<Entry>;
}

/** Whether `a` was issued after `b` (by validity: certificates of one CA are backdated alike). */
function newer(a: WorkloadCertificate, b: WorkloadCertificate): boolean {
  const d = a.notBefore.getTime() - b.notBefore.getTime();
  return d > 0 || (d === 0 && a.notAfter.getTime() > b.notAfter.getTime());
}

export class HbonePool {
  #byKey = new Map<string, Entry[]>();
  #pending = new Map<string, Promise<Entry>>();
  #contexts = new ClientContexts();
  #sources = new Map<string, SourceRecord>();
  #closed = false;

  constructor(readonly opts: HbonePoolOptions) {}

  /** Opens a CONNECT stream to `authority` and waits for the response headers. */
  async connect(target: HboneTarget, authority: string, extra: Headers = []): Promise<HboneResponse> {
    this.useCertificate(target.cert);
    const entry = await this.#session(target);
    entry.reserved--;
    let stream;
    try {
      stream = entry.session.request([[":method", "CONNECT"], [":authority", authority], ...extra], {
        responseTimeoutMs: this.#responseTimeoutMs,
      });
    } finally {
      if (entry.retired && entry.reserved === 0) entry.session.goaway();
    }
    this.#touch(entry);
    let headers: Headers;
    try {
      // The session resets the stream (CANCEL) when no response comes within responseTimeoutMs.
      headers = await stream.response!;
    } catch (e) {
      if (e instanceof H2ResponseTimeoutError) {
        throw new HboneConnectError(
          "timeout",
          `no response to CONNECT ${authority} within ${this.#responseTimeoutMs} ms`,
        );
      }
      throw new HboneConnectError("h2", errorMessage(e));
    }
    let status = 0;
    for (const [k, v] of headers) if (k === ":status") status = Number(v);
    return { stream, status, headers };
  }

  /**
   * Notes `cert` as its identity's newest when it is: connections made with an older certificate of the
   * same identity take no new streams and close when their last stream ends (GOAWAY), not after idling.
   */
  useCertificate(cert: WorkloadCertificate): void {
    const record = this.#sources.get(formatIdentity(cert.identity));
    if (!record || record.newest.serialNumber === cert.serialNumber || !newer(cert, record.newest)) return;
    record.newest = cert;
    for (const e of [...record.live]) if (newer(cert, e.cert)) this.#retire(e);
  }

  #retire(entry: Entry): void {
    if (entry.retired) return;
    entry.retired = true;
    this.#remove(entry.key, entry);
    if (entry.reserved === 0) entry.session.goaway();
  }

  /** Number of open pooled connections (for tests and metrics). */
  get connectionCount(): number {
    let n = 0;
    for (const list of this.#byKey.values()) n += list.length;
    return n;
  }

  #key(t: HboneTarget): string {
    return `${formatIdentity(t.cert.identity)}#${t.cert.serialNumber}|${
      [...t.expectedIdentities].sort().join(",")
    }|${t.ip}:${t.port}|${t.srcIp ?? ""}|${t.factory.id}`;
  }

  get #responseTimeoutMs(): number {
    return this.opts.responseTimeoutMs ?? RESPONSE_TIMEOUT_MS;
  }

  async #session(target: HboneTarget): Promise<Entry> {
    if (this.#closed) throw new HboneConnectError("failed", "pool closed");
    const key = this.#key(target);
    for (;;) {
      const list = this.#byKey.get(key);
      if (list) {
        for (const e of list) {
          const s = e.session;
          const limit = Math.min(this.opts.maxStreamsPerConnection, s.peerMaxConcurrentStreams);
          if (s.available && s.activeStreams + e.reserved < limit) {
            e.reserved++;
            return e;
          }
        }
      }
      // One connection attempt per key at a time: concurrent callers wait for it, then re-check.
      const pending = this.#pending.get(key);
      if (pending) {
        await pending.catch(() => {});
        continue;
      }
      const p = this.#dial(key, target);
      this.#pending.set(key, p);
      try {
        const e = await p;
        e.reserved++;
        return e;
      } finally {
        this.#pending.delete(key);
      }
    }
  }

  async #dial(key: string, target: HboneTarget): Promise<Entry> {
    let ch;
    try {
      ch = await dialSecure(
        this.opts.tls ?? "node",
        target,
        this.#contexts,
        this.opts.connectTimeoutMs ?? 10_000,
      );
    } catch (e) {
      throw new HboneConnectError(e instanceof DialError ? e.failure : "failed", errorMessage(e));
    }
    const refuse = checkServerIdentity(ch, target.expectedIdentities);
    if (refuse) {
      ch.socket.destroy();
      throw new HboneConnectError("tls", refuse);
    }
    const session = new H2Session(ch.socket, "client", this.opts.h2);
    const source = formatIdentity(target.cert.identity);
    const entry: Entry = { session, reserved: 0, key, source, cert: target.cert };
    session.onStreamClosed = () => this.#touch(entry);
    session.onUnavailable = () => this.#remove(key, entry);
    this.#track(entry);
    if (!entry.retired) {
      const list = this.#byKey.get(key) ?? [];
      list.push(entry);
      this.#byKey.set(key, list);
    }
    this.opts.log.debug("hbone connection opened", { dst: `${target.ip}:${target.port}` });
    return entry;
  }

  /**
   * Adds a new connection to its identity's record until its session closes. One made with a certificate
   * older than the newest (a caller that fetched it before the rotation) serves only that caller's stream.
   */
  #track(entry: Entry): void {
    const r = this.#sources.get(entry.source) ?? { newest: entry.cert, live: new Set<Entry>() };
    this.#sources.set(entry.source, r);
    r.live.add(entry);
    entry.session.closed.then(() => {
      r.live.delete(entry);
      if (r.live.size === 0 && this.#sources.get(entry.source) === r) this.#sources.delete(entry.source);
    });
    if (newer(entry.cert, r.newest)) this.useCertificate(entry.cert);
    else if (newer(r.newest, entry.cert)) entry.retired = true;
  }

  /** (Re)arms the idle timer when a session has no streams. */
  #touch(entry: Entry): void {
    if (entry.idleTimer !== undefined) {
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
    }
    if (entry.session.activeStreams === 0 && !entry.session.isClosed && !entry.retired) {
      entry.idleTimer = setTimeout(() => entry.session.goaway(), this.opts.idleTimeoutMs);
    }
  }

  #remove(key: string, entry: Entry): void {
    if (entry.idleTimer !== undefined) clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    const list = this.#byKey.get(key);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byKey.delete(key);
  }

  /** Graceful: GOAWAY on every connection; live streams finish. */
  drain(): void {
    this.#closed = true;
    for (const list of [...this.#byKey.values()]) for (const e of [...list]) e.session.goaway();
  }

  /** Closes every connection now. */
  close(): void {
    this.#closed = true;
    this.#contexts.close();
    for (const [key, list] of [...this.#byKey]) {
      for (const e of [...list]) {
        this.#remove(key, e);
        e.session.close();
      }
    }
    for (const r of [...this.#sources.values()]) for (const e of [...r.live]) e.session.close();
  }
}
