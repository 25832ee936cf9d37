/**
 * One identity's certificate, as ztunnel's SecretManager keeps it per identity: the certificate being
 * served, the last failure, the fetch in flight (shared by every caller), the backoff, and the one
 * timer that refreshes at half-life or retries after a failure. Half-life counts from when the
 * certificate was really issued, not its backdated notBefore (renewal_time.ts).
 */
import type { WorkloadCertificate } from "./certificate.ts";
import type { Clock } from "./clock.ts";
import { lifetimeStart, renewalTime } from "./renewal_time.ts";
import { formatIdentity, type Identity } from "./spiffe.ts";

export type CertState = "Initializing" | "Available" | `Unavailable: ${string}`;

export const INITIAL_BACKOFF_MS = 1_000;
/** Floor for the refresh delay, so a CA that hands out short or backdated certs cannot cause a hot loop. */
export const MIN_REFRESH_MS = 1_000;
/** setTimeout's longest delay (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whether `cert` has not expired at `now`. */
export function certValid(cert: WorkloadCertificate, now: number): boolean {
  return now < cert.notAfter.getTime();
}

export class CertEntry {
  readonly identity: Identity;
  readonly key: string;
  readonly #clock: Clock;
  #cert?: WorkloadCertificate;
  #error?: string;
  /** Set while a fetch is queued or running; settles when it completes. */
  #pending?: PromiseWithResolvers<WorkloadCertificate>;
  #timer?: number;
  #timerKind?: "refresh" | "retry";
  #backoffMs = INITIAL_BACKOFF_MS;
  /** When the running (or last) fetch began. */
  #requestedAt?: number;

  constructor(identity: Identity, clock: Clock) {
    this.identity = { ...identity };
    this.key = formatIdentity(identity);
    this.#clock = clock;
  }

  /** The last certificate fetched, expired or not. */
  get cert(): WorkloadCertificate | undefined {
    return this.#cert;
  }

  /** The certificate if it has not expired. */
  get validCert(): WorkloadCertificate | undefined {
    const cert = this.#cert;
    return cert && certValid(cert, this.#clock.now()) ? cert : undefined;
  }

  /** The last fetch's failure, until a fetch succeeds. */
  get error(): string | undefined {
    return this.#error;
  }

  /** The fetch queued or running, if any. */
  get pending(): Promise<WorkloadCertificate> | undefined {
    return this.#pending?.promise;
  }

  /** A failed fetch waits for its retry timer. */
  get waitingToRetry(): boolean {
    return this.#timerKind === "retry";
  }

  state(): CertState {
    if (this.validCert) return "Available";
    if (this.#error !== undefined) return `Unavailable: ${this.#error}`;
    if (this.#cert) return "Unavailable: certificate expired";
    return "Initializing";
  }

  /** A fetch is wanted: cancels the timer and opens the shared pending fetch unless one is open. */
  open(): Promise<WorkloadCertificate> {
    this.clearTimer();
    if (!this.#pending) {
      this.#pending = Promise.withResolvers<WorkloadCertificate>();
      this.#pending.promise.catch(() => {}); // prefetches have no awaiting caller
    }
    return this.#pending.promise;
  }

  /** Rejects the pending fetch's callers (a queued fetch being dropped). */
  cancel(reason: Error): void {
    this.#pending?.reject(reason);
    this.#pending = undefined;
  }

  /** The fetch starts now. */
  began(): void {
    this.#requestedAt = this.#clock.now();
  }

  /** The fetch completed: hands over its callers' resolvers, leaving no pending fetch. */
  takePending(): PromiseWithResolvers<WorkloadCertificate> | undefined {
    const pending = this.#pending;
    this.#pending = undefined;
    return pending;
  }

  /**
   * Serves `cert` from now on and resets the backoff. Returns when it was issued (the fetch's start
   * when the CA says nothing earlier) and the delay to its refresh at half-life (at least MIN_REFRESH_MS).
   */
  accept(cert: WorkloadCertificate): { issuedAt: number; refreshInMs: number } {
    this.#cert = cert;
    this.#error = undefined;
    this.#backoffMs = INITIAL_BACKOFF_MS;
    const now = this.#clock.now();
    const requestedAt = this.#requestedAt ?? now;
    return {
      issuedAt: lifetimeStart(cert, requestedAt),
      refreshInMs: Math.max(renewalTime(cert, requestedAt) - now, MIN_REFRESH_MS),
    };
  }

  /** Records a failure (the old certificate stays); returns the retry delay and doubles the next one. */
  fail(message: string, maxBackoffMs: number): number {
    this.#error = message;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, maxBackoffMs);
    return delay;
  }

  /**
   * Calls `due` after `delay`, in steps of at most MAX_TIMER_MS (longer timers would fire at once),
   * replacing the timer there was. Stops at any step where `live` says the entry is no longer managed.
   */
  schedule(kind: "refresh" | "retry", delay: number, live: () => boolean, due: () => void): void {
    this.clearTimer();
    this.#timerKind = kind;
    const at = this.#clock.now() + delay;
    const arm = () => {
      const step = Math.min(at - this.#clock.now(), MAX_TIMER_MS);
      const last = step < MAX_TIMER_MS;
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        if (!live()) return;
        if (last) due();
        else arm();
      }, step);
    };
    arm();
  }

  clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerKind = undefined;
  }
}
