/**
 * The workload manager (ZDS client + state manager) against a scripted istio-cni on socket pairs, with a
 * recording PodLauncher: snapshot and reconcile, Del, failed starts and their retry, fatal violations,
 * readiness, metrics and config_dump's workloadState.
 */
import assert from "node:assert/strict";
import { READINESS_TASK } from "../../lib/inpod/workload_manager.ts";
import { FakeCni, INFO, managerRig, metricValue, netnsFdCount, OK_ACK, until } from "./zds_fixture.ts";

const SELF = "/proc/self/ns/net";
const add = (uid: string) => ({ kind: "add" as const, uid, info: INFO });

async function connected(rig: ReturnType<typeof managerRig>): Promise<FakeCni> {
  const cni = await rig.dialer.accept();
  assert.equal(await cni.hello(), 1);
  return cni;
}

Deno.test("workload manager: snapshot with Add and Keep, then reconcile drains the pods a new snapshot leaves out", async () => {
  const rig = managerRig();
  rig.manager.start();
  assert.deepEqual(rig.readiness.pending(), [READINESS_TASK]);
  const cni = await connected(rig);
  assert.deepEqual(await cni.request(add("u1"), SELF), OK_ACK);
  assert.deepEqual(await cni.request({ kind: "keep", uid: "u2" }), OK_ACK);
  assert.equal(rig.manager.ready, false, "not ready before SnapshotSent");
  assert.deepEqual(await cni.request({ kind: "snapshot_sent" }), OK_ACK);
  assert.equal(rig.manager.ready, true);
  assert.deepEqual(rig.readiness.pending(), []);
  assert.deepEqual(rig.launcher.live(), ["u1"]);

  // istio-cni restarts: running pods keep serving through the reconnect; the new snapshot keeps u1.
  cni.close();
  const cni2 = await connected(rig);
  assert.equal(rig.manager.ready, false, "not ready after a disconnect");
  assert.deepEqual(await cni2.request({ kind: "keep", uid: "u1" }), OK_ACK);
  assert.deepEqual(await cni2.request(add("u3"), SELF), OK_ACK);
  assert.deepEqual(await cni2.request({ kind: "snapshot_sent" }), OK_ACK);
  assert.deepEqual(rig.launcher.live(), ["u1", "u3"]);
  assert.equal(rig.launcher.started.length, 2, "u1 was not restarted");

  // A snapshot naming nothing drains both, immediately.
  cni2.close();
  const cni3 = await connected(rig);
  assert.deepEqual(await cni3.request({ kind: "snapshot_sent" }), OK_ACK);
  assert.deepEqual(rig.launcher.live(), []);
  assert.deepEqual(rig.launcher.started.map((p) => p.stops), [["immediate"], ["immediate"]]);
  await until(() => metricValue(rig.registry, "workload_manager_proxies_stopped_total") === 2);
  assert.equal(metricValue(rig.registry, "workload_manager_active_proxy_count"), 0);
  assert.equal(metricValue(rig.registry, "workload_manager_proxies_started_total"), 2);
  assert.equal(rig.manager.connections, 3);
  await rig.close();
});

Deno.test("workload manager: Del before the snapshot waits for the reconcile; after it, drains at once; unknown uid is acked", async () => {
  const rig = managerRig();
  rig.manager.start();
  const cni = await connected(rig);
  await cni.request(add("u1"), SELF);
  await cni.request(add("u2"), SELF);
  assert.deepEqual(await cni.request({ kind: "del", uid: "u1" }), OK_ACK);
  assert.deepEqual(rig.launcher.live(), ["u1", "u2"], "before SnapshotSent a Del only unnames the pod");
  await cni.request({ kind: "snapshot_sent" });
  assert.deepEqual(rig.launcher.live(), ["u2"]);
  assert.deepEqual(await cni.request({ kind: "del", uid: "u2" }), OK_ACK);
  assert.deepEqual(rig.launcher.live(), []);
  assert.deepEqual(rig.launcher.started[1].stops, ["immediate"]);
  assert.deepEqual(await cni.request({ kind: "del", uid: "never-seen" }), OK_ACK);
  assert.equal(metricValue(rig.registry, "workload_manager_active_proxy_count"), 0);
  assert.deepEqual(rig.manager.workloadState(), {});
  await rig.close();
});

Deno.test("workload manager: a failed start is NACKed, stays pending (connection kept, not ready) and is retried every period", async () => {
  const rig = managerRig({ retryMs: 60 });
  rig.manager.start();
  const cni = await connected(rig);
  await cni.request({ kind: "snapshot_sent" });
  assert.equal(rig.manager.ready, true);
  rig.launcher.failures.set("u1", 2);
  const nack = await cni.request(add("u1"), SELF);
  assert.equal(nack.kind, "ack");
  assert.match(
    nack.kind === "ack" ? nack.error : "",
    /^failure to start proxy : bind 15008 in pod u1: EADDRINUSE$/,
  );
  assert.equal(rig.manager.ready, false, "a pending pod makes the manager not ready");
  assert.deepEqual(rig.manager.pendingUids(), ["u1"]);
  assert.equal(metricValue(rig.registry, "workload_manager_pending_proxy_count"), 1);
  assert.deepEqual(rig.manager.workloadState(), { u1: { state: "Pending", info: INFO } });
  // The connection stays up: later requests are served while the retry timer runs.
  assert.deepEqual(await cni.request(add("u2"), SELF), OK_ACK);
  await until(() => rig.launcher.live().includes("u1"), 3000, "u1 started by a retry");
  assert.equal(rig.launcher.failures.get("u1"), 0, "two retries: one failed, one started");
  assert.equal(rig.manager.ready, true);
  assert.equal(metricValue(rig.registry, "workload_manager_pending_proxy_count"), 0);
  assert.equal(metricValue(rig.registry, "workload_manager_active_proxy_count"), 2);
  const state = rig.manager.workloadState() as Record<string, { state: string; connections?: unknown }>;
  assert.equal(state.u1.state, "Up");
  assert.deepEqual(state.u1.connections, { inbound: [], outbound: [{ uid: "u1" }] });
  assert.equal(rig.dialer.dials, 1);
  await rig.close();
});

Deno.test("workload manager: pending pods are dropped on reconnect (their netns closed) and on Del before the snapshot", async () => {
  const rig = managerRig({ retryMs: 10_000 });
  rig.manager.start();
  const cni = await connected(rig);
  rig.launcher.failures.set("u1", 99);
  rig.launcher.failures.set("u2", 99);
  await cni.request(add("u1"), SELF);
  await cni.request(add("u2"), SELF);
  assert.deepEqual(rig.manager.pendingUids(), ["u1", "u2"]);
  assert.deepEqual(await cni.request({ kind: "del", uid: "u2" }), OK_ACK);
  assert.deepEqual(rig.manager.pendingUids(), ["u1"]);
  assert.deepEqual(Object.keys(rig.manager.workloadState()), ["u1"]);
  const before = netnsFdCount();
  cni.close();
  const cni2 = await connected(rig);
  assert.deepEqual(rig.manager.pendingUids(), []);
  assert.equal(netnsFdCount(), before - 1, "u1's netns fd is closed");
  await cni2.request({ kind: "snapshot_sent" });
  assert.equal(rig.manager.ready, true);
  await rig.close();
});

for (
  const [name, script, text] of [
    [
      "Keep after the snapshot",
      [{ kind: "snapshot_sent" }, { kind: "keep", uid: "u1" }],
      "pod keep received after snapshot",
    ],
    [
      "a second SnapshotSent",
      [{ kind: "snapshot_sent" }, { kind: "snapshot_sent" }],
      "pod snapshot received already",
    ],
    ["Add without workload_info", [{ kind: "add", uid: "u1" }], "workload_info is required but not present"],
  ] as const
) {
  Deno.test(`workload manager: ${name} is NACKed, then zt exits with code 1`, async () => {
    const rig = managerRig();
    rig.manager.start();
    const cni = await connected(rig);
    const exited = rig.exited();
    for (const [i, req] of script.entries()) {
      const ack = await cni.request(req, req.kind === "add" ? SELF : undefined);
      if (i < script.length - 1) assert.deepEqual(ack, OK_ACK);
      else assert.deepEqual(ack, { kind: "ack", error: `failure to process message : ${text}` });
    }
    assert.equal(await exited, 1);
    assert.equal(await cni.next(), null, "the connection is closed");
    assert.equal(rig.manager.ready, false);
    assert.deepEqual(rig.exits, [1]);
    assert.equal(rig.dialer.dials, 1, "no reconnect after a protocol violation");
    await rig.close();
  });
}

Deno.test("workload manager: shutdown stops running pods gracefully and waits for pods being stopped", async () => {
  const rig = managerRig();
  rig.manager.start();
  const cni = await connected(rig);
  await cni.request(add("u1"), SELF);
  await cni.request(add("u2"), SELF);
  await cni.request({ kind: "snapshot_sent" });
  let release!: () => void;
  rig.launcher.stopGate = new Promise((r) => (release = r));
  await cni.request({ kind: "del", uid: "u1" });
  let stopped = false;
  const stopping = rig.manager.stop().then(() => (stopped = true));
  await until(() => rig.launcher.started[1].stops.length === 1);
  assert.deepEqual(rig.launcher.started.map((p) => p.stops), [["immediate"], ["graceful"]]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stopped, false, "stop waits for the pods");
  release();
  await stopping;
  assert.equal(metricValue(rig.registry, "workload_manager_proxies_stopped_total"), 2);
  assert.equal(await cni.next(), null, "the ZDS connection is closed on shutdown");
  await rig.close();
});

Deno.test("workload manager: metrics are registered without the istio_ prefix", () => {
  const rig = managerRig();
  const text = rig.registry.encode();
  for (
    const m of [
      "# TYPE workload_manager_active_proxy_count gauge",
      "# TYPE workload_manager_pending_proxy_count gauge",
      "# TYPE workload_manager_proxies_started_total counter",
      "# TYPE workload_manager_proxies_stopped_total counter",
    ]
  ) assert.ok(text.includes(m), m);
  assert.doesNotMatch(text, /istio_workload_manager/);
  rig.home.close();
  rig.kit.close();
});
