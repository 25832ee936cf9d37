/**
 * One local config file using most of ztunnel's LocalConfig fields (tests/fakes/ztunnel_mesh.ts
 * PARITY_YAML), read by the real ztunnel (ZTUNNEL_BIN, dedicated mode, FAKE_CA, in its own network
 * namespace) and by a zt node: both accept it and their /config_dump workloads, services and policies
 * are equal (skipped with the reason when ZTUNNEL_BIN is unset, or without root).
 */
import assert from "node:assert/strict";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { ztunnelBinary, ZtunnelNode } from "../fakes/ztunnel_node.ts";
import { PARITY_YAML } from "../fakes/ztunnel_mesh.ts";

const ZTUNNEL = ztunnelBinary();
const SKIP = "skip" in ZTUNNEL ? ZTUNNEL.skip : await netnsSkipReason(["ip", "curl"]);
if (SKIP) console.log(`ztunnel_config_dump_test: skipped: ${SKIP}`);
const BIN = "bin" in ZTUNNEL ? ZTUNNEL.bin : "";

Deno.test({
  name: "ztunnel interop: one config file (FAKE_CA ztunnel), the same config_dump on both",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const netns = new Netns(`ztdump-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-ztunnel-dump-" });
    let zt: NodeProcess | undefined;
    let ztunnel: ZtunnelNode | undefined;
    try {
      const ns = await netns.add("ztunnel");
      const { caDir, configPath } = await writeMeshFiles(dir, PARITY_YAML);
      ztunnel = new ZtunnelNode({
        netns,
        ns,
        name: "ztunnel",
        bin: BIN,
        ip: "127.0.0.1",
        workload: { namespace: "ops", name: "a", serviceAccount: "a" },
        configPath,
        ca: { kind: "fake" },
        socks5: false,
      });
      // No pod of the config is on this zt's node, so it binds nothing but its admin address.
      [zt] = await Promise.all([
        startNode({ name: "elsewhere", ip: "127.213.0.1", caDir, configPath }),
        (async () => {
          await ztunnel!.waitForLog((l) => String(l.message).includes("marking server ready"), 20_000);
        })(),
      ]);
      const theirs = await ztunnel.configDump();
      const ours = await zt.configDump();
      const key = (x: Record<string, unknown>) => String(x.uid ?? x.hostname ?? `${x.namespace}/${x.name}`);
      const sorted = (v: unknown) =>
        [...(v as Record<string, unknown>[])].sort((a, b) => key(a) < key(b) ? -1 : 1);
      // zt also lists a workload's services (ztunnel does so for xDS workloads, not local ones).
      const ourWorkloads = sorted(ours.workloads).map(({ services: _s, ...w }) => w);
      assert.deepEqual(ourWorkloads, sorted(theirs.workloads));
      assert.deepEqual(sorted(ours.services), sorted(theirs.services));
      assert.deepEqual(sorted(ours.policies), sorted(theirs.policies));
    } finally {
      const codes = await Promise.all([zt?.stop(), ztunnel?.stop()]);
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
      assert.deepEqual(codes, [0, 0]);
    }
  },
});
