/**
 * zt's ZDS client (WorkloadManager, connecting by path) against zt's own istio-cni side (ZdsServer):
 * snapshot, live Add/Del with their acks, a NACKed start, and a server restart — the client reconnects,
 * the snapshot is sent again, and running pods keep serving through it.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../../lib/log/logger.ts";
import { ZdsServer } from "../../lib/inpod/zds_server.ts";
import { INFO, managerRig, metricValue, until } from "./zds_fixture.ts";

const SELF = "/proc/self/ns/net";

Deno.test("zds round trip: zt's client and zt's server — snapshot, Add/Del, NACK, restart with pods surviving", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-zds-rt-" });
  const path = `${dir}/ztunnel.sock`;
  const rig = managerRig({ path, dial: undefined, retryMs: 60_000 });
  const listen = (pods: Parameters<typeof ZdsServer.listen>[0]["pods"] = []) =>
    ZdsServer.listen({
      path,
      pods,
      libc: rig.kit.libc,
      readiness: rig.kit.readiness,
      log: silentLogger("cni"),
      acceptsPerSecond: 1000,
    });
  // The client starts first and retries until istio-cni is up.
  rig.manager.start();
  await new Promise((r) => setTimeout(r, 30));
  let server = await listen();
  try {
    await server.addPod("u1", INFO).catch(() => {}); // no netns yet: Keep only
    await until(() => rig.manager.ready, 5000, "ready after the first snapshot");
    await server.addPod("u2", INFO, SELF);
    await server.addPod("u3", { ...INFO, name: "n3" }, SELF);
    assert.deepEqual(rig.launcher.live(), ["u2", "u3"]);
    rig.launcher.failures.set("u4", 1);
    await assert.rejects(
      server.addPod("u4", INFO, SELF),
      /got ack error: failure to start proxy : bind 15008/,
    );
    assert.deepEqual(rig.manager.pendingUids(), ["u4"]);
    await server.removePod("u4");
    await server.removePod("u3");
    assert.deepEqual(rig.launcher.live(), ["u2"]);
    assert.equal(rig.manager.ready, true);

    // istio-cni restarts with the same cache contents: u2 is sent again in the snapshot and keeps running.
    await server.close();
    await until(() => !rig.manager.ready, 5000, "not ready while istio-cni is away");
    assert.deepEqual(rig.launcher.live(), ["u2"], "running pods keep serving while disconnected");
    server = await listen([{ uid: "u2", info: INFO, netnsPath: SELF }]);
    await until(
      () => rig.manager.ready && rig.manager.connections >= 2,
      5000,
      "ready after the new snapshot",
    );
    assert.deepEqual(rig.launcher.live(), ["u2"]);
    assert.equal(rig.launcher.started.filter((p) => p.uid === "u2").length, 1, "u2 was not restarted");
    assert.equal(metricValue(rig.registry, "workload_manager_active_proxy_count"), 1);
    assert.deepEqual(Object.keys(rig.manager.workloadState()), ["u2"]);
  } finally {
    await rig.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
