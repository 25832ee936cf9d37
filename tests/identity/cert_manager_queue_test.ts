import assert from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import { CertManager } from "../../lib/identity/cert_manager.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { makeTestPki } from "../fakes/test_pki.ts";
import { HOUR, idOf, settle, setup } from "./cert_manager_fixtures.ts";

Deno.test("at most maxConcurrent (8) fetches run at once; get jumps the warm-up queue", async () => {
  const { source, mgr, issue, done } = await setup();
  try {
    for (let i = 0; i < 20; i++) mgr.prefetch(idOf(`w${i}`));
    await settle();
    assert.equal(source.inFlight, 8);
    const rt = mgr.get(idOf("realtime"));
    await settle();
    assert.equal(source.calls.length, 8);
    source.calls[0].resolve(await issue(source.calls[0].identity));
    await settle();
    assert.equal(source.calls.length, 9);
    assert.equal(source.calls[8].identity.serviceAccount, "realtime");
    source.calls[8].resolve(await issue(idOf("realtime")));
    assert.equal((await rt).identity.serviceAccount, "realtime");
    const answered = new Set([0, 8]);
    while (answered.size < source.calls.length) {
      const i = source.calls.findIndex((_, j) => !answered.has(j));
      answered.add(i);
      source.calls[i].resolve(await issue(source.calls[i].identity));
      await settle();
      assert.ok(source.inFlight <= 8);
    }
    assert.equal(source.maxInFlight, 8);
    assert.equal(source.calls.length, 21);
    assert.equal(mgr.dump().filter((d) => d.state === "Available").length, 21);
  } finally {
    await done();
  }
});

Deno.test("forget cancels timers and queued fetches; running results are discarded", async () => {
  const { clock, source, mgr, issue, changes, done } = await setup({ maxConcurrent: 1 });
  try {
    const a = idOf("a"), b = idOf("b");
    const aCert = await issue(a);
    source.auto = () => aCert;
    await mgr.get(a);
    assert.equal(clock.timers.size, 1);
    mgr.forget(a);
    assert.equal(clock.timers.size, 0);
    assert.equal(mgr.state(a), undefined);
    assert.deepEqual(changes.at(-1), { identity: a, state: null, certificate: undefined });
    await clock.advance(10 * HOUR);
    assert.equal(source.calls.length, 1);

    source.auto = undefined;
    const running = mgr.get(a); // occupies the single slot
    const queued = mgr.get(b);
    await settle();
    mgr.forget(b);
    await assert.rejects(queued, (e) => e instanceof ZtError && /cancelled/.test(e.message));
    mgr.forget(a);
    source.calls[1].resolve(await issue(a));
    assert.equal((await running).identity.serviceAccount, "a"); // the waiter still gets its answer
    await settle();
    assert.equal(source.calls.length, 2); // b never started
    assert.deepEqual(mgr.dump(), []);
    assert.equal(clock.timers.size, 0);
  } finally {
    await done();
  }
});

Deno.test("track sets the desired identities", async () => {
  const { source, mgr, issue, done } = await setup();
  try {
    source.auto = undefined;
    mgr.track([idOf("a"), idOf("b")]);
    await settle();
    assert.deepEqual(source.calls.map((c) => c.identity.serviceAccount), ["a", "b"]);
    for (const c of source.calls) c.resolve(await issue(c.identity));
    await settle();
    mgr.track([idOf("b"), idOf("c")]);
    await settle();
    assert.deepEqual(source.calls.map((c) => c.identity.serviceAccount), ["a", "b", "c"]);
    assert.deepEqual(mgr.dump().map((d) => [d.identity, d.state]), [
      ["spiffe://cluster.local/ns/ns/sa/b", "Available"],
      ["spiffe://cluster.local/ns/ns/sa/c", "Initializing"],
    ]);
  } finally {
    await done();
  }
});

Deno.test("dump has ztunnel's certificates shape; bad CA answers are failures", async () => {
  const { source, mgr, issue, pki, done } = await setup();
  try {
    const a = idOf("a");
    const cert = await issue(a);
    source.auto = () => cert;
    await mgr.get(a);
    const [d] = mgr.dump();
    assert.deepEqual(Object.keys(d), ["identity", "state", "certChain", "rootCerts"]);
    assert.equal(d.identity, "spiffe://cluster.local/ns/ns/sa/a");
    assert.equal(d.certChain.length, 2);
    assert.equal(d.certChain[0].serialNumber, BigInt("0x" + cert.serialNumber).toString());
    assert.equal(atob(d.rootCerts[0].pem), pki.ca.rootsPem[0]);

    source.auto = () => cert; // answers with a's cert for b
    await assert.rejects(
      mgr.get(idOf("b")),
      /CA returned a certificate for spiffe:\/\/cluster.local\/ns\/ns\/sa\/a/,
    );
  } finally {
    await done();
  }
});

Deno.test("close clears timers and refuses further work", async () => {
  const { clock, source, mgr, issue, done } = await setup();
  try {
    const cert = await issue(idOf("a"));
    source.auto = () => cert;
    await mgr.get(idOf("a"));
    source.auto = undefined;
    const queued = mgr.get(idOf("b"));
    mgr.close();
    assert.equal(clock.timers.size, 0);
    await assert.rejects(mgr.get(idOf("a")), /closed/);
    source.calls[1].resolve(await issue(idOf("b")));
    assert.equal((await queued).identity.serviceAccount, "b");
  } finally {
    await done();
  }
});

Deno.test("real time: a 2 s certificate from the built-in CA is rotated after about 1 s", async () => {
  const pki = await makeTestPki();
  const mgr = new CertManager({ source: pki.ca.source(2_000), log: silentLogger() });
  try {
    const a = idOf("rotating");
    const serials: string[] = [];
    const rotated = Promise.withResolvers<void>();
    mgr.onChange((c) => {
      if (c.certificate) serials.push(c.certificate.serialNumber);
      if (serials.length === 2) rotated.resolve();
    });
    const t0 = performance.now();
    const first = await mgr.get(a);
    await rotated.promise;
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 950 && elapsed < 2_500, `rotated after ${elapsed} ms`);
    assert.notEqual(serials[1], first.serialNumber);
    assert.equal(mgr.peek(a)?.serialNumber, serials[1]);
  } finally {
    mgr.close();
    await pki.cleanup();
  }
});
