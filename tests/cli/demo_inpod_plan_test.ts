/**
 * The in-pod demo's plan (lib/cli/demo_inpod_plan.ts) and mesh: each node's ambient pods are exactly
 * what `zt cni` captures there (with their netns paths, identities matching ZDS's WorkloadInfo); the
 * topology's steps only use namespaces made before them and interface names Linux accepts; every pod
 * gets its address and a default route; the loopback mesh is unchanged (no netns).
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { parseLocalConfig } from "../../lib/state/local_config.ts";
import { selectInpodPods } from "../../lib/capture/inpod_pods.ts";
import { DEMO_PODS, demoMesh } from "../../lib/cli/demo_mesh.ts";
import {
  formatStep,
  INPOD_NAMESPACES,
  INPOD_NODES,
  INPOD_PODS,
  podResolvConf,
  stepConcerns,
  topologySteps,
} from "../../lib/cli/demo_inpod_plan.ts";

Deno.test("in-pod mesh: zt cni captures each node's four guide pods with their netns", () => {
  const cfg = parseLocalConfig(stringify(demoMesh(INPOD_PODS)));
  for (const n of INPOD_NODES) {
    const sel = selectInpodPods(cfg, n.name);
    const expected = INPOD_PODS.filter((p) => p.node === n.name);
    assert.deepEqual(
      sel.captured.map((p) => [p.name, p.namespace, p.serviceAccount, p.netns]),
      expected.map((p) => [p.name, "ambient-demo", p.sa, `/var/run/netns/${p.ns}`]).sort(),
    );
    assert.deepEqual(sel.uncaptured, []);
  }
});

Deno.test("loopback mesh: no netns, the four pods on 127.x", () => {
  const mesh = demoMesh();
  assert.equal(mesh.workloads.length, 4);
  assert.ok(mesh.workloads.every((w) => !("netns" in w)));
  assert.deepEqual(mesh.workloads.map((w) => w.workloadIps), DEMO_PODS.map((p) => [p.ip]));
});

Deno.test("topology: namespaces exist before use, interface names fit IFNAMSIZ, pods routed", () => {
  const steps = topologySteps();
  const made = new Set<string>();
  for (const s of steps) {
    if ("add" in s) {
      assert.ok(!made.has(s.add), `${s.add} added twice`);
      made.add(s.add);
      continue;
    }
    assert.ok(made.has(s.ns), `${formatStep(s)} runs before ${s.ns} exists`);
    const peerNs = s.argv.indexOf("netns");
    if (peerNs > 0) assert.ok(made.has(s.argv[peerNs + 1]), `${formatStep(s)}: peer namespace missing`);
    const link = s.argv.indexOf("link") >= 0 && s.argv[2] === "add" ? s.argv[3] : undefined;
    if (link) assert.ok(link.length <= 15, `interface name ${link} too long`);
  }
  assert.deepEqual([...made], [...INPOD_NAMESPACES]);
  for (const p of INPOD_PODS) {
    const own = steps.filter((s) => stepConcerns(s, p)).map(formatStep);
    assert.ok(own.includes(`ip netns exec ${p.ns} ip addr add ${p.ip}/32 dev eth0`), own.join("\n"));
    assert.ok(
      own.some((l) => l.startsWith(`ip netns exec ${p.ns} ip route add default via `)),
      own.join("\n"),
    );
  }
});

Deno.test("a pod's resolv.conf is the kubelet's: kube-dns, the namespace's search list, ndots 5", () => {
  assert.equal(
    podResolvConf("ambient-demo"),
    "nameserver 10.96.0.10\nsearch ambient-demo.svc.cluster.local svc.cluster.local cluster.local\n" +
      "options ndots:5\n",
  );
});
