/**
 * Renewal at half of the real validity: short TTLs (which the backdated notBefore used to turn into a
 * renewal every second), slow and shortening CAs, and lifetimes longer than setTimeout can wait.
 */
import assert from "node:assert/strict";
import { initCaDir } from "../../lib/identity/ca_init.ts";
import { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import { CertManager, type CertSource } from "../../lib/identity/cert_manager.ts";
import { MAX_TIMER_MS, MIN_REFRESH_MS } from "../../lib/identity/cert_entry.ts";
import { renewalTime } from "../../lib/identity/renewal_time.ts";
import type { WorkloadCertificate } from "../../lib/identity/certificate.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { HOUR, idOf, setup, T0 } from "./cert_manager_fixtures.ts";

const DAY = 24 * HOUR;

Deno.test("a 4 s certificate is renewed every 2 s, not every second", async () => {
  const { clock, source, mgr, pki, done } = await setup();
  try {
    const a = idOf("short");
    // A fresh 4 s leaf for each second of fake time, signed at that moment.
    const leaves = new Map<number, WorkloadCertificate>();
    for (let t = 0; t <= 10_000; t += 1_000) leaves.set(t, await pki.ca.sign(a, 4_000, new Date(T0 + t)));
    source.auto = () => leaves.get(clock.now() - T0) ?? new Error(`no leaf for ${clock.now() - T0} ms`);
    await mgr.get(a);
    await clock.advance(10_000);
    assert.deepEqual(source.calls.map((c) => c.at - T0), [0, 2_000, 4_000, 6_000, 8_000, 10_000]);
    assert.equal(mgr.state(a), "Available");
  } finally {
    await done();
  }
});

Deno.test("renewalTime ignores a backdated notBefore and halves a lifetime the CA shortened", async () => {
  const { pki, done } = await setup();
  try {
    const a = idOf("x");
    const now = new Date(T0);
    const c = await pki.ca.sign(a, 60_000, now);
    assert.equal(c.notBefore.getTime(), T0 - 60_000, "backdated by a minute");
    assert.equal(renewalTime(c, T0 - 5_000), T0 + 30_000, "issuedAt wins over an earlier request time");
    // A source that does not know the issue time: the request time counts, never before notBefore.
    const bare = { ...c, issuedAt: undefined };
    assert.equal(renewalTime(bare, T0 - 4_000), T0 - 4_000 + 32_000);
    assert.equal(renewalTime(bare, T0 - 3_600_000), T0 - 60_000 + 60_000, "clamped to notBefore");
    // Shortened by the CA: half of what was issued, whatever was asked.
    const short = { ...c, notAfter: new Date(T0 + 10_000) };
    assert.equal(renewalTime(short, T0), T0 + 5_000);
  } finally {
    await done();
  }
});

Deno.test("a slow CA: half-life counts from the request when the source gives no issue time", async () => {
  const { clock, source, mgr, pki, done } = await setup();
  try {
    const a = idOf("slow");
    mgr.prefetch(a);
    await clock.advance(3_000); // the CA answers 3 s later with a leaf signed at that moment
    const signed = await pki.ca.sign(a, 60_000, new Date(clock.now()));
    source.calls[0].resolve({ ...signed, issuedAt: undefined });
    await clock.advance(0);
    // Requested at T0, valid until T0 + 63 s: renew at T0 + 31.5 s (the old rule: T0 + 4.5 s).
    assert.deepEqual(clock.pending(), [T0 + 31_500 - clock.now()]);
  } finally {
    await done();
  }
});

Deno.test("a CA whose own certificate ends soon shortens the leaf; renewal is at half of that", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-short-ca-" });
  const { clock, source, mgr, done } = await setup();
  try {
    await initCaDir(dir, { validityDays: 10 / (24 * 60) }); // the CA expires ~10 minutes from now
    const ca = await BuiltinCa.load(dir);
    const a = idOf("capped");
    const leaf = await ca.sign(a, DAY, new Date(clock.now()));
    const lifetime = leaf.notAfter.getTime() - clock.now();
    assert.ok(lifetime > 8 * 60_000 && lifetime <= 11 * 60_000, `leaf lives ${lifetime} ms, not 24 h`);
    source.auto = () => leaf;
    await mgr.get(a);
    assert.deepEqual(clock.pending(), [lifetime / 2]);
  } finally {
    await done();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a renewal further away than setTimeout can wait is armed in steps", async () => {
  const { clock, source, mgr, pki, done } = await setup();
  try {
    const a = idOf("long");
    const leaf = { ...await pki.ca.sign(a, HOUR, new Date(T0)), notAfter: new Date(T0 + 90 * DAY) };
    source.auto = () => leaf;
    await mgr.get(a);
    assert.deepEqual(clock.pending(), [MAX_TIMER_MS], "45 days do not fit in one timer");
    await clock.advance(45 * DAY - 1);
    assert.equal(source.calls.length, 1);
    assert.ok(clock.pending().every((d) => d <= MAX_TIMER_MS));
    await clock.advance(1);
    assert.equal(source.calls.length, 2);
    assert.equal(source.calls[1].at, T0 + 45 * DAY);
  } finally {
    await done();
  }
});

Deno.test("real time: a 60-day certificate is not fetched again at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-long-ca-" });
  try {
    await initCaDir(dir, { validityDays: 365 });
    const ca = await BuiltinCa.load(dir);
    let fetches = 0;
    const counting: CertSource = { fetch: (id) => (fetches++, ca.sign(id, 60 * DAY)) };
    const mgr = new CertManager({ source: counting, log: silentLogger() });
    try {
      await mgr.get(idOf("long"));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(fetches, 1, "an overflowing timer would refetch every millisecond");
    } finally {
      mgr.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("real time: a 4 s certificate from the built-in CA is renewed after about 2 s, once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-rt-ca-" });
  try {
    await initCaDir(dir, { validityDays: 1 });
    const ca = await BuiltinCa.load(dir);
    const mgr = new CertManager({ source: ca.source(4_000), log: silentLogger() });
    try {
      const times: number[] = [];
      const t0 = performance.now();
      mgr.onChange((c) => c.certificate && times.push(performance.now() - t0));
      await mgr.get(idOf("rotating"));
      await new Promise((r) => setTimeout(r, 3_200));
      // notAfter is whole seconds: 3-4 s of life, so the renewal comes after 1.5-2 s (not after the 1 s
      // floor, as when the backdated minute was counted), and the next one not before 3 s.
      assert.equal(times.length, 2, `certificates at ${times.map(Math.round)} ms`);
      assert.ok(times[1] >= 1_400 && times[1] < 2_600, `renewed after ${times[1]} ms`);
      assert.ok(MIN_REFRESH_MS < 1_400);
    } finally {
      mgr.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
