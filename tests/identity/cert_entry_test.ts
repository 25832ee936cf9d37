import assert from "node:assert/strict";
import {
  CertEntry,
  INITIAL_BACKOFF_MS,
  MAX_TIMER_MS,
  MIN_REFRESH_MS,
} from "../../lib/identity/cert_entry.ts";
import { makeTestPki } from "../fakes/test_pki.ts";
import { FakeClock, HOUR, idOf } from "./cert_manager_fixtures.ts";

Deno.test("cert entry: Initializing, Available, kept through a failure, then Unavailable once expired", async () => {
  const pki = await makeTestPki();
  try {
    const clock = new FakeClock();
    const e = new CertEntry(idOf("a"), clock);
    assert.equal(e.key, "spiffe://cluster.local/ns/ns/sa/a");
    assert.equal(e.state(), "Initializing");
    const cert = await pki.ca.sign(idOf("a"), HOUR, new Date(clock.now()));
    e.began();
    e.accept(cert);
    assert.equal(e.state(), "Available");
    assert.equal(e.validCert, cert);
    e.fail("CA down", 60_000);
    assert.equal(e.state(), "Available", "a valid certificate is still served");
    assert.equal(e.error, "CA down");
    await clock.advance(2 * HOUR);
    assert.equal(e.validCert, undefined);
    assert.equal(e.cert, cert);
    assert.equal(e.state(), "Unavailable: CA down");
    e.accept(cert);
    assert.equal(e.error, undefined);
    assert.equal(e.state(), "Unavailable: certificate expired");
  } finally {
    await pki.cleanup();
  }
});

Deno.test("cert entry: failures back off from 1 s, doubling up to the cap; a certificate resets it", async () => {
  const pki = await makeTestPki();
  try {
    const clock = new FakeClock();
    const e = new CertEntry(idOf("a"), clock);
    const delays = [1, 2, 3, 4, 5].map(() => e.fail("x", 5_000));
    assert.deepEqual(delays, [INITIAL_BACKOFF_MS, 2_000, 4_000, 5_000, 5_000]);
    e.accept(await pki.ca.sign(idOf("a"), HOUR, new Date(clock.now())));
    assert.equal(e.fail("x", 5_000), INITIAL_BACKOFF_MS);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("cert entry: refresh at half-life from the fetch's start, never sooner than MIN_REFRESH_MS", async () => {
  const pki = await makeTestPki();
  try {
    const clock = new FakeClock();
    const e = new CertEntry(idOf("a"), clock);
    e.began();
    const issued = clock.now();
    const cert = await pki.ca.sign(idOf("a"), HOUR, new Date(issued));
    const { issuedAt, refreshInMs } = e.accept(cert);
    assert.equal(issuedAt, issued);
    assert.equal(refreshInMs, HOUR / 2);
    const short = await pki.ca.sign(idOf("a"), 1_000, new Date(issued));
    assert.equal(e.accept(short).refreshInMs, MIN_REFRESH_MS);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("cert entry: one pending fetch shared until taken; cancel rejects its callers", async () => {
  const pki = await makeTestPki();
  try {
    const clock = new FakeClock();
    const e = new CertEntry(idOf("a"), clock);
    assert.equal(e.pending, undefined);
    const p = e.open();
    assert.equal(e.open(), p);
    assert.equal(e.pending, p);
    const taken = e.takePending();
    assert.equal(e.pending, undefined);
    const cert = await pki.ca.sign(idOf("a"), HOUR, new Date(clock.now()));
    taken?.resolve(cert);
    assert.equal(await p, cert);
    const q = e.open();
    assert.notEqual(q, p);
    e.cancel(new Error("cancelled"));
    await assert.rejects(q, /cancelled/);
    assert.equal(e.takePending(), undefined);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("cert entry: a timer longer than setTimeout allows is armed in steps; clearTimer and live stop it", async () => {
  const clock = new FakeClock();
  const e = new CertEntry(idOf("a"), clock);
  let due = 0;
  e.schedule("retry", MAX_TIMER_MS + 10, () => true, () => due++);
  assert.equal(e.waitingToRetry, true);
  assert.deepEqual(clock.pending(), [MAX_TIMER_MS]);
  await clock.advance(MAX_TIMER_MS);
  assert.deepEqual(clock.pending(), [10]);
  assert.equal(due, 0);
  await clock.advance(10);
  assert.equal(due, 1);
  e.schedule("refresh", 100, () => true, () => due++);
  assert.equal(e.waitingToRetry, false);
  e.clearTimer();
  assert.deepEqual(clock.pending(), []);
  let live = true;
  e.schedule("refresh", MAX_TIMER_MS + 10, () => live, () => due++);
  live = false;
  await clock.advance(MAX_TIMER_MS + 10);
  assert.deepEqual(clock.pending(), [], "not re-armed once the entry is gone");
  assert.equal(due, 1);
  e.open();
  assert.equal(e.waitingToRetry, false, "a fetch cancels the timer");
});
