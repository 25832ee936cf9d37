/**
 * A pod's tunnels start from the pod's own address whenever zt's namespace owns it (standalone pods on
 * their own IPs), not only on loopback: the destination's access log, policy (`sourceIps`) and metrics
 * then see the pod as ztunnel's in-pod sockets show it. Two zt nodes in one network namespace whose pod
 * addresses are 10.x addresses (on its `lo`, but not 127/8 loopback addresses); needs root.
 */
import assert from "node:assert/strict";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { NetnsZtNode } from "../fakes/netns_zt_node.ts";
import { writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod, type PodSpec } from "../fakes/mesh_config.ts";
import type { Socks5Result } from "../fakes/digest_app.ts";
import { LineReader } from "../fakes/netns.ts";

const SKIP = await netnsSkipReason(["ip"]);
if (SKIP) console.log(`pod_source_ip_test: skipped: ${SKIP}`);

const NODES = [{ name: "node-a", ip: "10.215.0.1" }, { name: "node-b", ip: "10.215.0.2" }];
const CLIENT: PodSpec = { name: "client", ip: "10.215.1.1", node: "node-a" };
const SERVER: PodSpec = { name: "server", ip: "10.215.1.2", node: "node-b" };
const APP = new URL("../fakes/digest_app.ts", import.meta.url).pathname;

Deno.test({
  name: "pod source address: a tunnel from a pod on a non-loopback IP starts from that IP",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const netns = new Netns(`ztsrc-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-src-ip-" });
    const nodes: NetnsZtNode[] = [];
    try {
      const ns = await netns.add("node");
      for (const ip of [...NODES.map((n) => n.ip), CLIENT.ip, SERVER.ip]) {
        await netns.must(ns, ["ip", "addr", "add", `${ip}/32`, "dev", "lo"]);
      }
      const files = await writeMeshFiles(dir, { workloads: [meshPod(CLIENT), meshPod(SERVER)] });
      // Two nodes in one namespace: each its own operations addresses (by default both would take
      // localhost:15000, [::]:15020 and [::]:15021).
      const ops = (ip: string) => ({
        ADMIN_ADDR: `${ip}:15000`,
        STATS_ADDR: `${ip}:15020`,
        READINESS_ADDR: `${ip}:15021`,
      });
      nodes.push(...NODES.map((n) => new NetnsZtNode({ netns, ns, ...n, ...files, env: ops(n.ip) })));
      await Promise.all(nodes.map((n) => n.ready()));
      const app = netns.spawn(ns, [Deno.execPath(), "run", "-A", APP, "serve", SERVER.ip, "7070"]);
      await new LineReader(app.stdout).waitFor((l) => l.includes('"ready"'), 20_000);

      const r = await netns.run(ns, [
        Deno.execPath(),
        "run",
        "-A",
        APP,
        "socks5",
        `${CLIENT.ip}:15080`,
        SERVER.ip,
        "7070",
        "1000",
        "1",
      ]);
      const res = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Socks5Result;
      assert.equal(res.received, 1000, JSON.stringify(res) + r.stderr);
      const inbound = await nodes[1].waitForLog((l) =>
        l.message === "connection complete" && l.direction === "inbound"
      );
      assert.equal(String(inbound["src.addr"]).split(":")[0], CLIENT.ip, JSON.stringify(inbound));
      assert.equal(inbound["src.workload"], CLIENT.name);
    } finally {
      const codes = await Promise.all(nodes.map((n) => n.stop()));
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
      assert.deepEqual(codes, nodes.map(() => 0));
    }
  },
});
