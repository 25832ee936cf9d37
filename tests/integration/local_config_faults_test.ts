/**
 * A node's LOCAL_XDS_PATH watcher under faults: invalid content and a missing file are logged and
 * counted in zt_local_config_errors_total{kind}, the node keeps serving the last good config, and the
 * next good file is applied.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { scrape } from "../fakes/prometheus_scrape.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod } from "../fakes/mesh_config.ts";

const NODE = { name: "lcf-a", ip: "127.62.0.1" };
const POD = { name: "lcf-pod", ip: "127.62.0.10", node: NODE.name };
const OTHER = { name: "lcf-remote", ip: "127.62.0.11", node: "elsewhere" };

async function workloadNames(node: NodeProcess): Promise<string[]> {
  const dump = await node.configDump() as { workloads?: Array<{ name: string }> };
  return (dump.workloads ?? []).map((w) => w.name).sort();
}

Deno.test("local config faults: counted, logged, the last good config served, then the fix applied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-lcf-" });
  const { caDir, configPath } = await writeMeshFiles(dir, { workloads: [meshPod(POD)] });
  const node = await startNode({ ...NODE, caDir, configPath });
  let code = -1;
  try {
    const errors = async (kind: string) =>
      (await scrape(NODE.ip)).sum("zt_local_config_errors_total", { kind });
    assert.equal(await errors("invalid"), 0);

    await Deno.writeTextFile(configPath, "workloads:\n- {name: half-writ");
    await node.waitForLog((l) => l.message === "local config rejected; keeping the last good config");
    assert.equal(await errors("invalid"), 1);

    await Deno.remove(configPath);
    await node.waitForLog((l) => l.message === "local config unreadable; keeping the last good config");
    assert.ok(await errors("read") >= 1);
    assert.deepEqual(await workloadNames(node), [POD.name], "the last good config is served");

    await Deno.writeTextFile(configPath, stringify({ workloads: [meshPod(POD), meshPod(OTHER)] }));
    await node.waitForLog((l) => l.message === "local config reloaded");
    assert.deepEqual(await workloadNames(node), [OTHER.name, POD.name].sort());
  } finally {
    code = await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(code, 0);
});
