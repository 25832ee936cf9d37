/** config_dump carries in-pod mode's `workloadState` (ztunnel's shape) when the manager provides it. */
import assert from "node:assert/strict";
import { Observability } from "../../lib/admin/observability.ts";
import { loadConfig } from "../../lib/config/config.ts";
import { LogSink, parseLogFilter, silentLogger } from "../../lib/log/logger.ts";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { ConnectionManager } from "../../lib/proxy/connection_manager.ts";
import { INFO, managerRig } from "./zds_fixture.ts";

const SELF = "/proc/self/ns/net";

Deno.test("workloadState: Up pods with their connections, Pending pods without, in config_dump", async () => {
  const rig = managerRig({ retryMs: 60_000 });
  rig.manager.start();
  const cni = await rig.dialer.accept();
  await cni.hello();
  await cni.request({ kind: "add", uid: "pod-b", info: INFO }, SELF);
  rig.launcher.failures.set("pod-a", 1);
  const other = { name: "a", namespace: "default", serviceAccount: "sleep" };
  await cni.request({ kind: "add", uid: "pod-a", info: other }, SELF);

  const sink = new LogSink(parseLogFilter("off"), "plain", () => {});
  const config = loadConfig({
    LOCAL_XDS: "workloads: []",
    LOCAL_CA_DIR: "/nonexistent",
    ADMIN_ADDR: "127.0.0.1:0",
    STATS_ADDR: "127.0.0.1:0",
    READINESS_ADDR: "127.0.0.1:0",
  });
  const obs = await Observability.start({
    config,
    sink,
    log: silentLogger(),
    state: new ProxyState(),
    connections: new ConnectionManager(),
    certs: () => undefined,
    staticConfig: () => undefined,
    shutdown: () => Promise.resolve(),
    workloadState: () => rig.manager.workloadState(),
  });
  try {
    const dump = obs.configDump() as { workloadState: unknown };
    assert.deepEqual(JSON.parse(JSON.stringify(dump.workloadState)), {
      "pod-a": { state: "Pending", info: other },
      "pod-b": { state: "Up", connections: { inbound: [], outbound: [{ uid: "pod-b" }] }, info: INFO },
    });
    assert.deepEqual(Object.keys(dump.workloadState as object), ["pod-a", "pod-b"]);
  } finally {
    await obs.close();
    await rig.close();
  }
});
