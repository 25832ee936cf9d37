/**
 * HBONE client: a pool of mTLS HTTP/2 connections keyed by (source identity and certificate,
 * expected destination identities, destination address), each carrying at most
 * POOL_MAX_STREAMS_PER_CONNECTION CONNECT streams, released after idling.
 */
import type { WorkloadCertificate } from "../identity/certificate.ts";
import { formatIdentity } from "../identity/spiffe.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage, ZtError } from "../error.ts";
import { checkServerIdentity } from "./tls.ts";
import { ClientContexts, dialSecure, type TlsBackend } from "./secure_channel.ts";
import { type H2Options, H2Session } from "./h2/session.ts";
import type { H2Stream, Headers } from "./h2/stream.ts";

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

/** Why a tunnel could not be opened: `kind` tells the proxy how to report it. */
export class HboneConnectError extends ZtError {
  constructor(kind: "tls" | "connect" | "h2", message: string) {
    super(kind, message);
  }
}

interface Entry {
  session: H2Session;
  /** Streams promised to callers that have not opened them yet. */
  reserved: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

export class HbonePool {
  #byKey = new Map<string, Entry[]>();
  #pending = new Map<string, Promise<Entry>>();
  #contexts = new ClientContexts();
  #closed = false;

  constructor(readonly opts: HbonePoolOptions) {}

  /** Opens a CONNECT stream to `authority` and waits for the response headers. */
  async connect(target: HboneTarget, authority: string, extra: Headers = []): Promise<HboneResponse> {
    const entry = await this.#session(target);
    entry.reserved--;
    const stream = entry.session.request([[":method", "CONNECT"], [":authority", authority], ...extra], {
      responseTimeoutMs: this.opts.responseTimeoutMs ?? 10_000,
    });
    this.#touch(entry);
    const headers = await stream.response!;
    let status = 0;
    for (const [k, v] of headers) if (k === ":status") status = Number(v);
    return { stream, status, headers };
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
    }|${t.ip}:${t.port}|${t.srcIp ?? ""}`;
  }

  async #session(target: HboneTarget): Promise<Entry> {
    if (this.#closed) throw new HboneConnectError("connect", "pool closed");
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
      const kind = e instanceof ZtError && e.kind === "connect" ? "connect" : "tls";
      throw new HboneConnectError(kind, errorMessage(e));
    }
    const refuse = checkServerIdentity(ch, target.expectedIdentities);
    if (refuse) {
      ch.socket.destroy();
      throw new HboneConnectError("tls", refuse);
    }
    const session = new H2Session(ch.socket, "client", this.opts.h2);
    const entry: Entry = { session, reserved: 0 };
    const list = this.#byKey.get(key) ?? [];
    list.push(entry);
    this.#byKey.set(key, list);
    session.onStreamClosed = () => this.#touch(entry);
    session.onUnavailable = () => this.#remove(key, entry);
    this.opts.log.debug("hbone connection opened", { dst: `${target.ip}:${target.port}` });
    return entry;
  }

  /** (Re)arms the idle timer when a session has no streams. */
  #touch(entry: Entry): void {
    if (entry.idleTimer !== undefined) {
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
    }
    if (entry.session.activeStreams === 0 && !entry.session.isClosed) {
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
  }
}
