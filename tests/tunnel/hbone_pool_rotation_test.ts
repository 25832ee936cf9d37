/**
 * HbonePool and certificate rotation, against a real zt HBONE server over mTLS: once a newer certificate
 * of a source identity is used, connections made with the older one take no new streams and close when
 * their last stream ends, long before POOL_UNUSED_RELEASE_TIMEOUT, without losing a byte.
 */
import assert from "node:assert/strict";
import { echoStream, readAll } from "../fakes/h2_streams.ts";
import { makeTestPki, type TestPki } from "../fakes/test_pki.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import { HboneServer } from "../../lib/tunnel/hbone_server.ts";
import { HbonePool, type HboneResponse, type HboneTarget } from "../../lib/tunnel/hbone_pool.ts";
import { DEFAULT_H2_OPTIONS, type H2Session } from "../../lib/tunnel/h2/session.ts";
import type { H2Stream } from "../../lib/tunnel/h2/stream.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import type { WorkloadCertificate } from "../../lib/identity/certificate.ts";

const SERVER_ID = "spiffe://cluster.local/ns/demo/sa/server";
const HOUR = 3_600_000;
/** Far longer than any wait here: a connection that closes did so because it was retired. */
const IDLE_MS = 120_000;

interface Fixture {
  pki: TestPki;
  pool: HbonePool;
  /** A client leaf for `sa` signed `agoMs` ago (older certificates have earlier validity). */
  leaf(sa: string, agoMs: number): Promise<WorkloadCertificate>;
  connect(cert: WorkloadCertificate): Promise<HboneResponse>;
  close(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const pki = await makeTestPki();
  const server = new HboneServer({
    listener: hostFactory().listenTcp({ ip: "127.0.0.1", port: 0 }),
    cert: await pki.issue("demo", "server"),
    h2: DEFAULT_H2_OPTIONS,
    log: silentLogger(),
    onTunnel: (t) => {
      t.respond(200);
      echoStream(t.stream).catch(() => {});
    },
  });
  await server.listen();
  const pool = new HbonePool({
    h2: DEFAULT_H2_OPTIONS,
    maxStreamsPerConnection: 100,
    idleTimeoutMs: IDLE_MS,
    log: silentLogger(),
  });
  const target = (cert: WorkloadCertificate): HboneTarget => ({
    cert,
    expectedIdentities: [SERVER_ID],
    ip: "127.0.0.1",
    port: server.address.port,
    factory: hostFactory(),
  });
  return {
    pki,
    pool,
    leaf: (sa, agoMs) =>
      pki.ca.sign(
        { trustDomain: "cluster.local", namespace: "demo", serviceAccount: sa },
        HOUR,
        new Date(Date.now() - agoMs),
      ),
    connect: async (cert) => {
      const res = await pool.connect(target(cert), "10.0.0.1:80");
      assert.equal(res.status, 200);
      return res;
    },
    close: async () => {
      pool.close();
      server.close();
      await server.closed();
      await pki.cleanup();
    },
  };
}

const sessionOf = (r: HboneResponse) => r.stream.owner as H2Session;

/** Sends `n` bytes and reads their echo: the stream still carries data both ways. */
async function roundTrip(s: H2Stream, n: number): Promise<void> {
  const data = new Uint8Array(n).map((_, i) => (i * 7 + 3) & 255);
  const got: number[] = [];
  const reading = (async () => {
    while (got.length < n) {
      const c = await s.read();
      if (c === null) throw new Error(`stream ended after ${got.length} of ${n} bytes`);
      got.push(...c);
      s.release(c.length);
    }
  })();
  await s.writeBytes(data);
  await reading;
  assert.deepEqual(new Uint8Array(got), data);
}

/** Half-closes and drains the stream: it ends cleanly. */
async function finish(s: H2Stream): Promise<void> {
  s.end();
  await readAll(s);
}

async function closesWithin(session: H2Session, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([session.closed.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("rotation: the old connection takes no new streams and closes when its last stream ends", async () => {
  const f = await fixture();
  try {
    const old = await f.leaf("client", 5_000);
    const a = await f.connect(old);
    const b = await f.connect(old);
    const oldSession = sessionOf(a);
    assert.equal(sessionOf(b), oldSession, "one pooled connection per certificate");
    await finish(b.stream);

    const fresh = await f.leaf("client", 0);
    const c = await f.connect(fresh);
    assert.notEqual(sessionOf(c), oldSession);
    assert.equal(oldSession.available, false, "the old connection takes no new streams");
    assert.equal(oldSession.isClosed, false, "but its live stream goes on");
    assert.equal(f.pool.connectionCount, 1);
    await roundTrip(a.stream, 100_000);

    // A caller that fetched the old certificate before the rotation still gets its stream, on a
    // connection of its own that does not join the pool.
    const late = await f.connect(old);
    assert.notEqual(sessionOf(late), oldSession);
    assert.notEqual(sessionOf(late), sessionOf(c));
    await roundTrip(late.stream, 1_000);
    await finish(late.stream);
    assert.ok(await closesWithin(sessionOf(late), 2_000), "the late connection closed after its stream");

    await roundTrip(a.stream, 1_000);
    await finish(a.stream);
    assert.ok(await closesWithin(oldSession, 2_000), "closed after its last stream, not after idling");

    // The newest certificate's connection stays pooled while idle, and is reused.
    await finish(c.stream);
    const d = await f.connect(fresh);
    assert.equal(sessionOf(d), sessionOf(c));
    assert.equal(sessionOf(c).available, true);
    await finish(d.stream);
  } finally {
    await f.close();
  }
});

Deno.test("rotation hook: useCertificate closes an idle old connection at once", async () => {
  const f = await fixture();
  try {
    const old = await f.leaf("client", 5_000);
    const a = await f.connect(old);
    await finish(a.stream);
    assert.equal(f.pool.connectionCount, 1);
    f.pool.useCertificate(await f.leaf("client", 0));
    assert.ok(await closesWithin(sessionOf(a), 2_000), "idle and retired: closed now");
    assert.equal(f.pool.connectionCount, 0);
  } finally {
    await f.close();
  }
});

Deno.test("rotation: an older certificate or another identity's retires nothing", async () => {
  const f = await fixture();
  try {
    const current = await f.leaf("client", 0);
    const other = await f.leaf("other", 10_000);
    const a = await f.connect(current);
    const o = await f.connect(other);
    f.pool.useCertificate(await f.leaf("client", 5_000)); // older than the one in use
    f.pool.useCertificate(current); // the same one again
    f.pool.useCertificate(await f.leaf("stranger", 0)); // no connections of its own
    const otherNewer = await f.leaf("other", 0);
    f.pool.useCertificate(otherNewer);
    assert.equal(sessionOf(a).available, true, "a's connection is untouched");
    assert.equal(sessionOf(o).available, false, "other's was retired by other's own rotation");
    await roundTrip(a.stream, 10_000);
    await finish(a.stream);
    await finish(o.stream);
    assert.ok(await closesWithin(sessionOf(o), 2_000));
    assert.equal(sessionOf(a).isClosed, false);
    assert.equal(f.pool.connectionCount, 1);
  } finally {
    await f.close();
  }
});

Deno.test("rotation: a stream promised on the old connection when it is retired still opens", async () => {
  const f = await fixture();
  try {
    const old = await f.leaf("client", 5_000);
    const idle = await f.connect(old);
    await finish(idle.stream);
    // The first connect reserves a stream on the idle old connection before the second one retires it.
    const fresh = await f.leaf("client", 0);
    const [x, y] = await Promise.all([f.connect(old), f.connect(fresh)]);
    assert.equal(sessionOf(x), sessionOf(idle));
    assert.notEqual(sessionOf(y), sessionOf(idle));
    await roundTrip(x.stream, 10_000);
    await finish(x.stream);
    assert.ok(await closesWithin(sessionOf(x), 2_000));
    await finish(y.stream);
  } finally {
    await f.close();
  }
});
