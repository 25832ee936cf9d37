/**
 * Keeps one workload certificate per identity, as ztunnel's SecretManager does
 * (`src/identity/manager.rs`): fetch on demand with in-flight sharing, prefetch (warm-up),
 * renewal at half-life, exponential backoff on failure while the still-valid old certificate
 * keeps being served (cert_entry.ts), at most `maxConcurrent` fetches in flight
 * (RealTime > Warmup > Background, fetch_queue.ts).
 */
import { errorMessage, ZtError } from "../error.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { CertEntry, type CertState, certValid, INITIAL_BACKOFF_MS } from "./cert_entry.ts";
import { type CertDump, certDump, type WorkloadCertificate } from "./certificate.ts";
import { type Clock, systemClock } from "./clock.ts";
import { BACKGROUND, type FetchPriority, FetchQueue, REALTIME, WARMUP } from "./fetch_queue.ts";
import { formatIdentity, type Identity, sameIdentity } from "./spiffe.ts";

/** Where certificates come from: the built-in CA, or the Istio CA gRPC client. */
export interface CertSource {
  fetch(identity: Identity): Promise<WorkloadCertificate>;
}

/** ztunnel's config_dump `certificates[]` element. */
export interface CertsDump {
  identity: string;
  state: CertState;
  certChain: CertDump[];
  rootCerts: CertDump[];
}

/** A state change; `state` is null when the identity was forgotten. */
export interface CertChange {
  identity: Identity;
  state: CertState | null;
  certificate: WorkloadCertificate | undefined;
}

export interface CertManagerOptions {
  source: CertSource;
  clock?: Clock;
  log?: Logger;
  maxConcurrent?: number;
  maxBackoffMs?: number;
}

export class CertManager {
  readonly #source: CertSource;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #maxBackoffMs: number;
  readonly #entries = new Map<string, CertEntry>();
  readonly #queue: FetchQueue<CertEntry>;
  readonly #listeners = new Set<(c: CertChange) => void>();
  readonly #dumps = new WeakMap<WorkloadCertificate, { certChain: CertDump[]; rootCerts: CertDump[] }>();
  #closed = false;

  constructor(opts: CertManagerOptions) {
    this.#source = opts.source;
    this.#clock = opts.clock ?? systemClock;
    this.#log = (opts.log ?? silentLogger()).child("identity");
    const maxConcurrent = opts.maxConcurrent ?? 8;
    this.#maxBackoffMs = opts.maxBackoffMs ?? 150_000;
    if (!(maxConcurrent >= 1)) throw new ZtError("config", "maxConcurrent must be at least 1");
    if (!(this.#maxBackoffMs >= INITIAL_BACKOFF_MS)) {
      throw new ZtError("config", `maxBackoffMs must be at least ${INITIAL_BACKOFF_MS}`);
    }
    this.#queue = new FetchQueue(maxConcurrent, (e) => this.#fetch(e));
  }

  /** The identity's certificate, fetching it (once, shared) when there is no valid one. */
  get(identity: Identity): Promise<WorkloadCertificate> {
    if (this.#closed) return Promise.reject(new ZtError("identity", "certificate manager is closed"));
    const e = this.#entry(identity);
    const cert = e.validCert;
    if (cert) return Promise.resolve(cert);
    const pending = e.pending;
    if (pending) {
      this.#queue.enqueue(e, REALTIME);
      return pending;
    }
    if (e.error !== undefined && e.waitingToRetry) {
      return Promise.reject(new ZtError("identity", `certificate for ${e.key} is unavailable: ${e.error}`));
    }
    return this.#request(e, REALTIME);
  }

  /** The current certificate if it has not expired; never fetches. */
  peek(identity: Identity): WorkloadCertificate | undefined {
    return this.#entries.get(formatIdentity(identity))?.validCert;
  }

  /** Starts fetching at warm-up priority unless a valid certificate or a fetch already exists. */
  prefetch(identity: Identity): void {
    if (this.#closed) return;
    const e = this.#entry(identity);
    if (e.validCert || e.pending || e.waitingToRetry) return;
    this.#request(e, WARMUP);
  }

  /** Drops the identity: cancels its timers and queued fetch; a running fetch's result is discarded. */
  forget(identity: Identity): void {
    const key = formatIdentity(identity);
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    e.clearTimer();
    if (this.#queue.remove(e)) e.cancel(new ZtError("identity", `certificate request for ${key} cancelled`));
    this.#log.debug("forgot certificate", { identity: key });
    this.#emit({ identity: e.identity, state: null, certificate: undefined });
  }

  /** Sets the desired identities: prefetches new ones and forgets every other identity. */
  track(identities: Identity[]): void {
    const wanted = new Set(identities.map(formatIdentity));
    for (const e of [...this.#entries.values()]) if (!wanted.has(e.key)) this.forget(e.identity);
    for (const id of identities) this.prefetch(id);
  }

  /** config_dump `certificates`, sorted by identity. */
  dump(): CertsDump[] {
    return [...this.#entries.values()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((e) => {
        const state = e.state();
        const cert = e.cert;
        if (state !== "Available" || !cert) return { identity: e.key, state, certChain: [], rootCerts: [] };
        let d = this.#dumps.get(cert);
        if (!d) {
          d = { certChain: cert.certChainPem.map(certDump), rootCerts: cert.rootsPem.map(certDump) };
          this.#dumps.set(cert, d);
        }
        return { identity: e.key, state, certChain: d.certChain, rootCerts: d.rootCerts };
      });
  }

  /** The state of one identity, or undefined when it is not managed. */
  state(identity: Identity): CertState | undefined {
    return this.#entries.get(formatIdentity(identity))?.state();
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onChange(fn: (c: CertChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Clears all timers and queued fetches; running fetches finish but their results are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.#entries.values()) {
      e.clearTimer();
      if (this.#queue.isQueued(e)) e.cancel(new ZtError("identity", "certificate manager is closed"));
    }
    this.#queue.close();
    this.#entries.clear();
    this.#listeners.clear();
  }

  #entry(identity: Identity): CertEntry {
    const key = formatIdentity(identity);
    let e = this.#entries.get(key);
    if (!e) {
      e = new CertEntry(identity, this.#clock);
      this.#entries.set(key, e);
    }
    return e;
  }

  #request(e: CertEntry, prio: FetchPriority): Promise<WorkloadCertificate> {
    const promise = e.open();
    this.#queue.enqueue(e, prio);
    return promise;
  }

  /** One fetch, run by the queue. */
  #fetch(e: CertEntry): Promise<void> {
    e.began();
    this.#log.debug("fetching certificate", { identity: e.key });
    return Promise.resolve()
      .then(() => this.#source.fetch(e.identity))
      .then((cert) => this.#checked(e, cert))
      .then((cert) => this.#succeeded(e, cert), (err) => this.#failed(e, err));
  }

  #checked(e: CertEntry, cert: WorkloadCertificate): WorkloadCertificate {
    if (!sameIdentity(cert.identity, e.identity)) {
      throw new ZtError("identity", `CA returned a certificate for ${formatIdentity(cert.identity)}`);
    }
    if (!certValid(cert, this.#clock.now())) {
      throw new ZtError("identity", "CA returned an expired certificate");
    }
    return cert;
  }

  #current(e: CertEntry): boolean {
    return !this.#closed && this.#entries.get(e.key) === e;
  }

  #succeeded(e: CertEntry, cert: WorkloadCertificate): void {
    const pending = e.takePending();
    if (this.#current(e)) {
      const { issuedAt, refreshInMs } = e.accept(cert);
      this.#schedule(e, "refresh", refreshInMs);
      this.#log.info("certificate fetched", {
        identity: e.key,
        serial: cert.serialNumber,
        issued: new Date(issuedAt).toISOString(),
        expires: cert.notAfter.toISOString(),
        refresh_in_ms: Math.round(refreshInMs),
      });
      this.#emit({ identity: e.identity, state: "Available", certificate: cert });
    }
    pending?.resolve(cert);
  }

  #failed(e: CertEntry, err: unknown): void {
    const pending = e.takePending();
    const message = errorMessage(err);
    if (this.#current(e)) {
      const delay = e.fail(message, this.#maxBackoffMs);
      this.#schedule(e, "retry", delay);
      const kept = e.validCert;
      this.#log.warn("failed to fetch certificate", {
        identity: e.key,
        error: message,
        retry_in_ms: delay,
        keeping_serial: kept?.serialNumber,
      });
      this.#emit({ identity: e.identity, state: e.state(), certificate: kept });
      if (kept) {
        pending?.resolve(kept);
        return;
      }
    }
    pending?.reject(
      new ZtError("identity", `failed to fetch certificate for ${e.key}: ${message}`, { cause: err }),
    );
  }

  /** Fetches again at background priority after `delay`, while the entry is still managed. */
  #schedule(e: CertEntry, kind: "refresh" | "retry", delay: number): void {
    e.schedule(kind, delay, () => this.#current(e), () => this.#request(e, BACKGROUND));
  }

  #emit(c: CertChange): void {
    for (const fn of [...this.#listeners]) {
      try {
        fn(c);
      } catch (err) {
        this.#log.error("certificate listener failed", { error: errorMessage(err) });
      }
    }
  }
}
