import assert from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import { formatIdentity } from "../../lib/identity/spiffe.ts";
import { HOUR, idOf, settle, setup } from "./cert_manager_fixtures.ts";

Deno.test("get fetches once, shares the in-flight fetch, then serves the cached cert", async () => {
  const { clock, source, mgr, issue, done } = await setup();
  try {
    const a = idOf("a");
    const p1 = mgr.get(a);
    const p2 = mgr.get(a);
    await settle();
    assert.equal(source.calls.length, 1);
    assert.equal(mgr.state(a), "Initializing");
    assert.equal(mgr.peek(a), undefined);
    const cert = await issue(a);
    source.calls[0].resolve(cert);
    assert.equal(await p1, cert);
    assert.equal(await p2, cert);
    assert.equal(await mgr.get(a), cert);
    assert.equal(mgr.peek(a), cert);
    assert.equal(mgr.state(a), "Available");
    assert.equal(source.calls.length, 1);
    assert.equal(clock.timers.size, 1);
  } finally {
    await done();
  }
});

Deno.test("prefetch warms up once and is a no-op while a valid cert exists", async () => {
  const { source, mgr, issue, done } = await setup();
  try {
    const a = idOf("a");
    mgr.prefetch(a);
    mgr.prefetch(a);
    await settle();
    assert.equal(source.calls.length, 1);
    const cert = await issue(a);
    source.calls[0].resolve(cert);
    await settle();
    assert.equal(mgr.peek(a), cert);
    mgr.prefetch(a);
    assert.equal(await mgr.get(a), cert);
    await settle();
    assert.equal(source.calls.length, 1);
  } finally {
    await done();
  }
});

Deno.test("renews at half of the real lifetime: issuedAt + (notAfter - issuedAt) / 2", async () => {
  const { clock, source, mgr, issue, changes, done } = await setup();
  try {
    const a = idOf("a");
    const first = await issue(a);
    assert.ok(first.notBefore.getTime() < clock.now(), "the built-in CA backdates notBefore");
    source.auto = () => first;
    await mgr.get(a);
    const refreshAt = clock.now() + HOUR / 2;
    assert.deepEqual(
      clock.pending(),
      [HOUR / 2],
      "not (HOUR + 60 s) / 2 - 60 s from the backdated notBefore",
    );

    await clock.advance(refreshAt - clock.now() - 1);
    assert.equal(source.calls.length, 1);
    const second = await issue(a);
    source.auto = () => second;
    await clock.advance(1);
    assert.equal(source.calls.length, 2);
    assert.equal(source.calls[1].at, refreshAt);
    assert.equal(mgr.peek(a), second);
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.deepEqual(changes.map((c) => [c.state, c.certificate?.serialNumber]), [
      ["Available", first.serialNumber],
      ["Available", second.serialNumber],
    ]);
  } finally {
    await done();
  }
});

Deno.test("failures back off exponentially from 1 s, capped at maxBackoffMs", async () => {
  const { clock, source, mgr, done } = await setup({ maxBackoffMs: 10_000 });
  try {
    const a = idOf("a");
    source.auto = () => new Error("CA down");
    await assert.rejects(mgr.get(a), (e) => e instanceof ZtError && /CA down/.test(e.message));
    assert.equal(mgr.state(a), "Unavailable: CA down");
    // While waiting for the retry, get fails fast without another fetch.
    await assert.rejects(mgr.get(a), /CA down/);
    assert.equal(source.calls.length, 1);
    await clock.advance(60_000);
    const gaps = source.calls.slice(1).map((c, i) => c.at - source.calls[i].at);
    assert.deepEqual(gaps.slice(0, 7), [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
  } finally {
    await done();
  }
});

Deno.test("default backoff cap is 150 s", async () => {
  const { clock, source, mgr, done } = await setup();
  try {
    source.auto = () => new Error("nope");
    mgr.prefetch(idOf("a"));
    await clock.advance(1_000_000);
    const gaps = source.calls.slice(1).map((c, i) => c.at - source.calls[i].at);
    assert.deepEqual(gaps.slice(0, 10), [1, 2, 4, 8, 16, 32, 64, 128, 150, 150].map((s) => s * 1000));
  } finally {
    await done();
  }
});

Deno.test("a failed renewal keeps serving the old cert until it expires, then recovers", async () => {
  const { clock, source, mgr, issue, done } = await setup();
  try {
    const a = idOf("a");
    const old = await issue(a, 10 * 60_000);
    source.auto = () => old;
    await mgr.get(a);
    source.auto = () => new Error("CA down");
    await clock.advance(old.notAfter.getTime() - clock.now() - 1);
    assert.ok(source.calls.length > 3);
    assert.equal(mgr.state(a), "Available");
    assert.equal(mgr.peek(a), old);
    assert.equal(await mgr.get(a), old);
    assert.equal(mgr.dump()[0].certChain.length, 2);

    await clock.advance(1);
    assert.equal(mgr.state(a), "Unavailable: CA down");
    assert.equal(mgr.peek(a), undefined);
    await assert.rejects(mgr.get(a), /CA down/);
    assert.deepEqual(mgr.dump(), [
      { identity: formatIdentity(a), state: "Unavailable: CA down", certChain: [], rootCerts: [] },
    ]);

    const fresh = await issue(a);
    source.auto = () => fresh;
    await clock.advance(150_000);
    assert.equal(mgr.peek(a), fresh);
    // Backoff was reset: the next failure retries after 1 s again.
    source.auto = () => new Error("again");
    const n = source.calls.length;
    const issuedAt = fresh.issuedAt!.getTime();
    const refreshAt = issuedAt + (fresh.notAfter.getTime() - issuedAt) / 2;
    await clock.advance(refreshAt - clock.now() + 1_500);
    assert.deepEqual(source.calls.slice(n).map((c) => c.at - refreshAt), [0, 1_000]);
  } finally {
    await done();
  }
});
