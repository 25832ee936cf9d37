/** Shared fixtures for the CertManager tests: a manual clock and a CA answered by hand. */
import { type CertChange, CertManager, type CertSource } from "../../lib/identity/cert_manager.ts";
import type { Clock } from "../../lib/identity/clock.ts";
import type { WorkloadCertificate } from "../../lib/identity/certificate.ts";
import type { Identity } from "../../lib/identity/spiffe.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { makeTestPki, type TestPki } from "../fakes/test_pki.ts";

export const T0 = Math.floor(Date.now() / 1000) * 1000;
export const HOUR = 3_600_000;

/** Manual time: timers fire only when the test advances the clock. */
export class FakeClock implements Clock {
  #t = T0;
  #next = 1;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.#t;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.timers.set(id, { at: this.#t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(id: number): void {
    this.timers.delete(id);
  }
  /** Delays of pending timers from now, ascending. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.#t).sort((a, b) => a - b);
  }
  async advance(ms: number): Promise<void> {
    const end = this.#t + ms;
    await settle();
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) =>
        t.at <= end
      ).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.#t = due[1].at;
      due[1].fn();
      await settle();
    }
    this.#t = end;
    await settle();
  }
}

/** Lets every queued promise reaction run. */
export const settle = () => new Promise<void>((r) => setTimeout(r, 0));

interface Call {
  identity: Identity;
  at: number;
  resolve(c: WorkloadCertificate): void;
  reject(e: Error): void;
}

/** A CertSource the test answers by hand (or automatically with `auto`). */
export class ScriptedSource implements CertSource {
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  auto?: (identity: Identity) => WorkloadCertificate | Error;
  constructor(readonly clock: FakeClock) {}
  fetch(identity: Identity): Promise<WorkloadCertificate> {
    const d = Promise.withResolvers<WorkloadCertificate>();
    this.calls.push({ identity, at: this.clock.now(), resolve: d.resolve, reject: d.reject });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const answer = this.auto?.(identity);
    if (answer instanceof Error) d.reject(answer);
    else if (answer) d.resolve(answer);
    return d.promise.finally(() => this.inFlight--);
  }
}

export const idOf = (sa: string): Identity => ({
  trustDomain: "cluster.local",
  namespace: "ns",
  serviceAccount: sa,
});

export async function setup(opts: { maxConcurrent?: number; maxBackoffMs?: number } = {}) {
  const pki = await makeTestPki();
  const clock = new FakeClock();
  const source = new ScriptedSource(clock);
  const mgr = new CertManager({ source, clock, log: silentLogger(), ...opts });
  const changes: CertChange[] = [];
  mgr.onChange((c) => changes.push(c));
  /** A real leaf issued at the fake clock's current time. */
  const issue = (id: Identity, ttlMs = HOUR) => pki.ca.sign(id, ttlMs, new Date(clock.now()));
  return { pki, clock, source, mgr, changes, issue, done: () => done(mgr, pki) };
}

async function done(mgr: CertManager, pki: TestPki) {
  mgr.close();
  await pki.cleanup();
}
