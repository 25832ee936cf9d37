/**
 * Keeps one workload certificate per identity, as ztunnel's SecretManager does
 * (`src/identity/manager.rs`): fetch on demand with in-flight sharing, prefetch (warm-up),
 * renewal at half-life, exponential backoff on failure while the still-valid old certificate
 * keeps being served, at most `maxConcurrent` fetches in flight (RealTime > Warmup > Background).
 * Half-life counts from when the certificate was really issued, not its backdated notBefore
 * (renewal_time.ts).
 */
import { errorMessage, ZtError } from "../error.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { type CertDump, certDump, type WorkloadCertificate } from "./certificate.ts";
import { lifetimeStart, renewalTime } from "./renewal_time.ts";
import { formatIdentity, type Identity, sameIdentity } from "./spiffe.ts";

/** Where certificates come from: the built-in CA, or the Istio CA gRPC client. */
export interface CertSource {
  fetch(identity: Identity): Promise<WorkloadCertificate>;
}

/** Time and timers, injectable for tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): number;
  clearTimeout(id: number): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as number,
  clearTimeout: (id) => clearTimeout(id as unknown as ReturnType<typeof setTimeout>),
};

export type CertState = "Initializing" | "Available" | `Unavailable: ${string}`;

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

export const INITIAL_BACKOFF_MS = 1_000;
/** Floor for the refresh delay, so a CA that hands out short or backdated certs cannot cause a hot loop. */
export const MIN_REFRESH_MS = 1_000;
/** setTimeout's longest delay (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const REALTIME = 0, WARMUP = 1, BACKGROUND = 2;
type Priority = typeof REALTIME | typeof WARMUP | typeof BACKGROUND;

interface Entry {
  readonly identity: Identity;
  readonly key: string;
  cert?: WorkloadCertificate;
  error?: string;
  /** Set while a fetch is queued or running; settles when it completes. */
  pending?: PromiseWithResolvers<WorkloadCertificate>;
  queuedAt?: Priority;
  timer?: number;
  timerKind?: "refresh" | "retry";
  backoffMs: number;
  /** When the running (or last) fetch began. */
  requestedAt?: number;
}

export class CertManager {
  readonly #source: CertSource;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #maxConcurrent: number;
  readonly #maxBackoffMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #queues: [Entry[], Entry[], Entry[]] = [[], [], []];
  readonly #listeners = new Set<(c: CertChange) => void>();
  readonly #running = new Set<Entry>();
  readonly #dumps = new WeakMap<WorkloadCertificate, { certChain: CertDump[]; rootCerts: CertDump[] }>();
  #closed = false;

  constructor(opts: CertManagerOptions) {
    this.#source = opts.source;
    this.#clock = opts.clock ?? systemClock;
    this.#log = (opts.log ?? silentLogger()).child("identity");
    this.#maxConcurrent = opts.maxConcurrent ?? 8;
    this.#maxBackoffMs = opts.maxBackoffMs ?? 150_000;
    if (!(this.#maxConcurrent >= 1)) throw new ZtError("config", "maxConcurrent must be at least 1");
    if (!(this.#maxBackoffMs >= INITIAL_BACKOFF_MS)) {
      throw new ZtError("config", `maxBackoffMs must be at least ${INITIAL_BACKOFF_MS}`);
    }
  }

  /** The identity's certificate, fetching it (once, shared) when there is no valid one. */
  get(identity: Identity): Promise<WorkloadCertificate> {
    if (this.#closed) return Promise.reject(new ZtError("identity", "certificate manager is closed"));
    const e = this.#entry(identity);
    if (e.cert && this.#valid(e.cert)) return Promise.resolve(e.cert);
    if (e.pending) {
      this.#enqueue(e, REALTIME);
      return e.pending.promise;
    }
    if (e.error !== undefined && e.timerKind === "retry") {
      return Promise.reject(new ZtError("identity", `certificate for ${e.key} is unavailable: ${e.error}`));
    }
    return this.#request(e, REALTIME);
  }

  /** The current certificate if it has not expired; never fetches. */
  peek(identity: Identity): WorkloadCertificate | undefined {
    const cert = this.#entries.get(formatIdentity(identity))?.cert;
    return cert && this.#valid(cert) ? cert : undefined;
  }

  /** Starts fetching at warm-up priority unless a valid certificate or a fetch already exists. */
  prefetch(identity: Identity): void {
    if (this.#closed) return;
    const e = this.#entry(identity);
    if ((e.cert && this.#valid(e.cert)) || e.pending || e.timerKind === "retry") return;
    this.#request(e, WARMUP);
  }

  /** Drops the identity: cancels its timers and queued fetch; a running fetch's result is discarded. */
  forget(identity: Identity): void {
    const key = formatIdentity(identity);
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#clearTimer(e);
    if (e.queuedAt !== undefined) {
      this.#dequeue(e);
      e.pending?.reject(new ZtError("identity", `certificate request for ${key} cancelled`));
      e.pending = undefined;
    }
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
        const state = this.#state(e);
        if (state !== "Available" || !e.cert) return { identity: e.key, state, certChain: [], rootCerts: [] };
        let d = this.#dumps.get(e.cert);
        if (!d) {
          d = { certChain: e.cert.certChainPem.map(certDump), rootCerts: e.cert.rootsPem.map(certDump) };
          this.#dumps.set(e.cert, d);
        }
        return { identity: e.key, state, certChain: d.certChain, rootCerts: d.rootCerts };
      });
  }

  /** The state of one identity, or undefined when it is not managed. */
  state(identity: Identity): CertState | undefined {
    const e = this.#entries.get(formatIdentity(identity));
    return e && this.#state(e);
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
      this.#clearTimer(e);
      if (e.queuedAt !== undefined) {
        e.pending?.reject(new ZtError("identity", "certificate manager is closed"));
        e.pending = undefined;
      }
    }
    this.#queues.forEach((q) => (q.length = 0));
    this.#entries.clear();
    this.#listeners.clear();
  }

  #entry(identity: Identity): Entry {
    const key = formatIdentity(identity);
    let e = this.#entries.get(key);
    if (!e) {
      e = { identity: { ...identity }, key, backoffMs: INITIAL_BACKOFF_MS };
      this.#entries.set(key, e);
    }
    return e;
  }

  #valid(cert: WorkloadCertificate): boolean {
    return this.#clock.now() < cert.notAfter.getTime();
  }

  #state(e: Entry): CertState {
    if (e.cert && this.#valid(e.cert)) return "Available";
    if (e.error !== undefined) return `Unavailable: ${e.error}`;
    if (e.cert) return "Unavailable: certificate expired";
    return "Initializing";
  }

  #request(e: Entry, prio: Priority): Promise<WorkloadCertificate> {
    this.#clearTimer(e);
    if (!e.pending) {
      e.pending = Promise.withResolvers<WorkloadCertificate>();
      e.pending.promise.catch(() => {}); // prefetches have no awaiting caller
    }
    this.#enqueue(e, prio);
    return e.pending.promise;
  }

  /** Queues `e` at `prio`, or raises its priority if it is already queued lower; no-op while running. */
  #enqueue(e: Entry, prio: Priority): void {
    if (this.#running.has(e)) return;
    if (e.queuedAt !== undefined && e.queuedAt <= prio) return;
    this.#dequeue(e);
    e.queuedAt = prio;
    this.#queues[prio].push(e);
    this.#pump();
  }

  #dequeue(e: Entry): void {
    if (e.queuedAt === undefined) return;
    const q = this.#queues[e.queuedAt];
    const i = q.indexOf(e);
    if (i >= 0) q.splice(i, 1);
    e.queuedAt = undefined;
  }

  #pump(): void {
    while (this.#running.size < this.#maxConcurrent) {
      const e = this.#queues.find((q) => q.length > 0)?.shift();
      if (!e) return;
      e.queuedAt = undefined;
      this.#start(e);
    }
  }

  #start(e: Entry): void {
    this.#running.add(e);
    e.requestedAt = this.#clock.now();
    this.#log.debug("fetching certificate", { identity: e.key });
    Promise.resolve()
      .then(() => this.#source.fetch(e.identity))
      .then((cert) => this.#checked(e, cert))
      .then((cert) => this.#succeeded(e, cert), (err) => this.#failed(e, err))
      .finally(() => {
        this.#running.delete(e);
        if (!this.#closed) this.#pump();
      });
  }

  #checked(e: Entry, cert: WorkloadCertificate): WorkloadCertificate {
    if (!sameIdentity(cert.identity, e.identity)) {
      throw new ZtError("identity", `CA returned a certificate for ${formatIdentity(cert.identity)}`);
    }
    if (!this.#valid(cert)) throw new ZtError("identity", "CA returned an expired certificate");
    return cert;
  }

  #current(e: Entry): boolean {
    return !this.#closed && this.#entries.get(e.key) === e;
  }

  #succeeded(e: Entry, cert: WorkloadCertificate): void {
    const pending = e.pending;
    e.pending = undefined;
    if (this.#current(e)) {
      e.cert = cert;
      e.error = undefined;
      e.backoffMs = INITIAL_BACKOFF_MS;
      const now = this.#clock.now();
      const requestedAt = e.requestedAt ?? now;
      const delay = Math.max(renewalTime(cert, requestedAt) - now, MIN_REFRESH_MS);
      this.#schedule(e, "refresh", delay);
      this.#log.info("certificate fetched", {
        identity: e.key,
        serial: cert.serialNumber,
        issued: new Date(lifetimeStart(cert, requestedAt)).toISOString(),
        expires: cert.notAfter.toISOString(),
        refresh_in_ms: Math.round(delay),
      });
      this.#emit({ identity: e.identity, state: "Available", certificate: cert });
    }
    pending?.resolve(cert);
  }

  #failed(e: Entry, err: unknown): void {
    const pending = e.pending;
    e.pending = undefined;
    const message = errorMessage(err);
    if (this.#current(e)) {
      e.error = message;
      const delay = e.backoffMs;
      e.backoffMs = Math.min(e.backoffMs * 2, this.#maxBackoffMs);
      this.#schedule(e, "retry", delay);
      const kept = e.cert && this.#valid(e.cert) ? e.cert : undefined;
      this.#log.warn("failed to fetch certificate", {
        identity: e.key,
        error: message,
        retry_in_ms: delay,
        keeping_serial: kept?.serialNumber,
      });
      this.#emit({ identity: e.identity, state: this.#state(e), certificate: kept });
      if (kept) {
        pending?.resolve(kept);
        return;
      }
    }
    pending?.reject(
      new ZtError("identity", `failed to fetch certificate for ${e.key}: ${message}`, { cause: err }),
    );
  }

  /** Fetches again after `delay`, in steps of at most MAX_TIMER_MS (longer timers would fire at once). */
  #schedule(e: Entry, kind: "refresh" | "retry", delay: number): void {
    this.#clearTimer(e);
    e.timerKind = kind;
    const due = this.#clock.now() + delay;
    const arm = () => {
      const step = Math.min(due - this.#clock.now(), MAX_TIMER_MS);
      const last = step < MAX_TIMER_MS;
      e.timer = this.#clock.setTimeout(() => {
        e.timer = undefined;
        if (!this.#current(e)) return;
        if (last) this.#request(e, BACKGROUND);
        else arm();
      }, step);
    };
    arm();
  }

  #clearTimer(e: Entry): void {
    if (e.timer !== undefined) this.#clock.clearTimeout(e.timer);
    e.timer = undefined;
    e.timerKind = undefined;
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
