/**
 * The ZDS client's transport rules against a scripted istio-cni on socket pairs: read errors (truncation,
 * fd counts, undecodable bytes) are NACKed and the connection is made again with every stray fd closed;
 * end of stream reconnects; connect retries back off; readiness follows the session; a netns change
 * replaces a pod's proxies and the same netns again is idempotent.
 */
import assert from "node:assert/strict";
import { AnnounceBackoff, ConnectBackoff } from "../../lib/inpod/backoff.ts";
import { encodeWorkloadRequest } from "../../lib/inpod/zds_messages.ts";
import { READINESS_TASK } from "../../lib/inpod/workload_manager.ts";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import {
  type FakeCni,
  INFO,
  managerRig,
  metricValue,
  netnsFdCount,
  OK_ACK,
  sameId,
  until,
} from "./zds_fixture.ts";

const SELF = "/proc/self/ns/net";
const add = (uid: string) => ({ kind: "add" as const, uid, info: INFO });

async function connected(rig: ReturnType<typeof managerRig>): Promise<FakeCni> {
  const cni = await rig.dialer.accept();
  assert.equal(await cni.hello(), 1);
  return cni;
}

const READ_ERRORS: ReadonlyArray<[string, Uint8Array, readonly string[], RegExp]> = [
  [
    "a packet over 1024 bytes (truncated)",
    encodeWorkloadRequest({ kind: "del", uid: "x".repeat(1100) }),
    [],
    /received truncated message/,
  ],
  ["an Add with two fds", encodeWorkloadRequest(add("u1")), [SELF, SELF], /Expected 1 FD, got 2/],
  ["an Add without an fd", encodeWorkloadRequest(add("u1")), [], /No control message/],
  [
    "a Del with an fd",
    encodeWorkloadRequest({ kind: "del", uid: "u1" }),
    [SELF],
    /Unexpected control message/,
  ],
  [
    "a SnapshotSent with an fd",
    encodeWorkloadRequest({ kind: "snapshot_sent" }),
    [SELF],
    /Unexpected control message/,
  ],
  ["bytes that are no WorkloadRequest", Uint8Array.from([0x1a, 0x05, 0x00]), [SELF], /truncated: length 5/],
  ["a request without payload", Uint8Array.from([0x20, 0x01]), [], /no_payload/],
];

for (const [name, bytes, fds, text] of READ_ERRORS) {
  Deno.test(`zds client: ${name} → NACK "failure to read message", reconnect, no fd left open`, async () => {
    const rig = managerRig();
    rig.manager.start();
    const cni = await connected(rig);
    await cni.request({ kind: "snapshot_sent" });
    const fdsBefore = netnsFdCount();
    await cni.send(bytes, fds);
    const nack = await cni.ack();
    assert.equal(nack.kind, "ack");
    assert.match(nack.kind === "ack" ? nack.error : "", /^failure to read message : /);
    assert.match(nack.kind === "ack" ? nack.error : "", text);
    assert.equal(await cni.next(), null, "then the connection is dropped");
    const cni2 = await connected(rig);
    assert.equal(rig.manager.ready, false);
    cni.close();
    assert.equal(netnsFdCount(), fdsBefore);
    assert.deepEqual(rig.exits, []);
    assert.deepEqual(await cni2.request({ kind: "snapshot_sent" }), OK_ACK);
    await rig.close();
  });
}

Deno.test("zds client: end of stream reconnects at once; an empty packet counts as end of stream", async () => {
  const rig = managerRig();
  rig.manager.start();
  const cni = await connected(rig);
  await cni.send(new Uint8Array());
  const cni2 = await connected(rig);
  assert.equal(rig.dialer.dials, 2);
  cni.close();
  cni2.close();
  await connected(rig);
  assert.equal(rig.dialer.dials, 3);
  await rig.close();
});

Deno.test("zds client: connect failures are retried with a doubling, capped backoff", async () => {
  const rig = managerRig({ connectBackoff: () => new ConnectBackoff(1, 8) });
  rig.dialer.refuse = true;
  rig.manager.start();
  await until(() => rig.dialer.dials >= 6, 3000, "six dials");
  assert.equal(rig.manager.ready, false);
  rig.dialer.refuse = false;
  const cni = await connected(rig);
  assert.deepEqual(await cni.request({ kind: "snapshot_sent" }), OK_ACK);
  assert.equal(rig.manager.ready, true);
  await rig.close();
});

Deno.test("zds client: a hello that cannot be sent (announce error) waits per the announce backoff, then reconnects", async () => {
  const waits: number[] = [];
  const backoff = new AnnounceBackoff({ random: () => 0.5 });
  const next = backoff.next.bind(backoff);
  backoff.next = () => {
    const w = next();
    waits.push(w);
    return w;
  };
  const rig = managerRig({ announceBackoff: backoff });
  rig.dialer.hangUp = 3;
  rig.manager.start();
  const cni = await connected(rig);
  assert.deepEqual(waits, [5, 10, 20]);
  assert.equal(rig.dialer.dials, 4);
  assert.equal(rig.manager.ready, false);
  await cni.request({ kind: "snapshot_sent" });
  assert.equal(rig.manager.ready, true);
  // Ready resets the series.
  assert.equal(backoff.next(), 5);
  await rig.close();
});

Deno.test("zds client: backoff series — connect doubles before each sleep up to 15 s; announce 5 ms ×2 ±20%", () => {
  const c = new ConnectBackoff();
  const seq = Array.from({ length: 12 }, () => c.next());
  assert.deepEqual(seq, [20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 15000, 15000]);
  let t = 0;
  const mid = new AnnounceBackoff({ random: () => 0.5, now: () => t });
  assert.deepEqual(Array.from({ length: 4 }, () => mid.next()), [5, 10, 20, 40]);
  const low = new AnnounceBackoff({ random: () => 0, now: () => t });
  assert.equal(low.next(), 4);
  const high = new AnnounceBackoff({ random: () => 1, now: () => t });
  assert.equal(high.next(), 6);
  for (let i = 0; i < 30; i++) mid.next();
  assert.equal(mid.next(), 15_000);
  mid.reset();
  assert.equal(mid.next(), 5);
  t = 16 * 60_000;
  assert.equal(mid.next(), 15_000, "past the max elapsed time every wait is the maximum");
});

Deno.test("zds client: readiness — not ready until the snapshot, while a pod is pending, and after a disconnect", async () => {
  const rig = managerRig({ retryMs: 30 });
  rig.manager.start();
  const cni = await connected(rig);
  assert.deepEqual(rig.readiness.pending(), [READINESS_TASK]);
  await cni.request(add("u1"), SELF);
  assert.deepEqual(rig.readiness.pending(), [READINESS_TASK]);
  await cni.request({ kind: "snapshot_sent" });
  assert.deepEqual(rig.readiness.pending(), []);
  rig.launcher.failures.set("u2", 1);
  await cni.request(add("u2"), SELF);
  assert.deepEqual(rig.readiness.pending(), [READINESS_TASK], "a pending pod");
  await until(() => rig.readiness.ready, 3000, "ready after the retry");
  cni.close();
  await until(() => !rig.readiness.ready, 3000, "not ready after the disconnect");
  assert.deepEqual(rig.readiness.pending(), [READINESS_TASK], "registered once");
  const cni2 = await connected(rig);
  await cni2.request({ kind: "keep", uid: "u1" });
  await cni2.request({ kind: "keep", uid: "u2" });
  await cni2.request({ kind: "snapshot_sent" });
  assert.ok(rig.readiness.ready);
  assert.deepEqual(rig.launcher.live(), ["u1", "u2"]);
  await rig.close();
});

Deno.test("zds client: the retry timer never costs a request — acks stay in order while retries run", async () => {
  const rig = managerRig({ retryMs: 5 });
  rig.manager.start();
  const cni = await connected(rig);
  rig.launcher.failures.set("p", 1_000_000);
  await cni.request(add("p"), SELF);
  for (let i = 0; i < 40; i++) {
    assert.deepEqual(await cni.request({ kind: "keep", uid: `k${i}` }), OK_ACK);
    if (i % 8 === 0) await new Promise((r) => setTimeout(r, 7));
  }
  assert.deepEqual(await cni.request({ kind: "snapshot_sent" }), OK_ACK);
  assert.ok((rig.launcher.failures.get("p") ?? 0) < 1_000_000 - 3, "retries ran meanwhile");
  // Retries go on, and still nothing is sent unprompted (istio-cni's keepalive would call it an error).
  const tries = rig.launcher.failures.get("p")!;
  const unprompted = await Promise.race([cni.next(), new Promise((r) => setTimeout(() => r("quiet"), 80))]);
  assert.equal(unprompted, "quiet");
  assert.ok(rig.launcher.failures.get("p")! < tries, "retried during the quiet period");
  await rig.close();
});

Deno.test("zds client: the same uid and netns again is idempotent (the duplicate fd is closed)", async () => {
  const rig = managerRig();
  rig.manager.start();
  const cni = await connected(rig);
  await cni.request(add("u1"), SELF);
  const before = netnsFdCount();
  for (let i = 0; i < 5; i++) assert.deepEqual(await cni.request(add("u1"), SELF), OK_ACK);
  assert.equal(netnsFdCount(), before);
  assert.equal(rig.launcher.started.length, 1);
  assert.equal(metricValue(rig.registry, "workload_manager_proxies_started_total"), 1);
  await rig.close();
});

const skip = await netnsSkipReason(["ip"]);
Deno.test({
  name: "zds client: an Add with a new netns for a known uid replaces its proxies (old stopped at once)",
  ignore: skip !== undefined,
  async fn() {
    const netns = new Netns(`ztzds-${Deno.pid}`);
    await netns.removeStale();
    const rig = managerRig();
    try {
      const pod = await netns.add("pod");
      rig.manager.start();
      const cni = await connected(rig);
      await cni.request(add("u1"), SELF);
      await cni.request({ kind: "snapshot_sent" });
      assert.deepEqual(await cni.request(add("u1"), `/var/run/netns/${pod}`), OK_ACK);
      const [old, fresh] = rig.launcher.started;
      assert.deepEqual(old.stops, ["immediate"]);
      assert.deepEqual(fresh.stops, []);
      assert.ok(!sameId(old.netnsId, fresh.netnsId), "the new pod runs in the other namespace");
      assert.ok(sameId(fresh.netnsId, fresh.netns.id));
      assert.equal(metricValue(rig.registry, "workload_manager_proxies_started_total"), 2);
      assert.equal(metricValue(rig.registry, "workload_manager_active_proxy_count"), 1);
      await until(() => metricValue(rig.registry, "workload_manager_proxies_stopped_total") === 1);
      assert.deepEqual(Object.keys(rig.manager.workloadState()), ["u1"]);
    } finally {
      await rig.close();
      await netns.destroy();
    }
  },
});
if (skip) console.log(`zds_client_test: netns replacement skipped: ${skip}`);
