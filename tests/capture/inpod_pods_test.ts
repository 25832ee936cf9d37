/**
 * The local config's `netns` field (zt extension) and the in-pod selection built on it: the node's
 * ambient pods with a netns are captured, the others are listed with their reason, pods that must carry
 * no rules are listed for removal (never sidecar or host-network pods), and the field stays out of
 * config_dump.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { inpodPodKey, selectInpodPods } from "../../lib/capture/inpod_pods.ts";
import { parseLocalConfig } from "../../lib/state/local_config.ts";
import { workloadToDump } from "../../lib/admin/config_dump.ts";
import { ZtError } from "../../lib/error.ts";

let nextIp = 10;
const pod = (name: string, namespace: string, extra: Record<string, unknown> = {}) => ({
  name,
  namespace,
  serviceAccount: `${name}-sa`,
  workloadIps: [`10.253.9.${nextIp++}`],
  protocol: "HBONE",
  node: "node-a",
  netns: `/var/run/netns/${name}`,
  ...extra,
});

const CONFIG = stringify({
  namespaces: [
    { name: "ambient-demo", labels: { "istio.io/dataplane-mode": "ambient" } },
    { name: "legacy" },
  ],
  workloads: [
    pod("sleep", "ambient-demo", {
      annotations: {
        "ambient.istio.io/dns-capture": "false",
        "ambient.istio.io/bypass-inbound-capture": "true",
      },
    }),
    pod("nonetns", "ambient-demo", { netns: undefined }),
    pod("optout", "ambient-demo", { annotations: { "ambient.istio.io/redirection": "disabled" } }),
    pod("sidecar", "ambient-demo", { annotations: { "sidecar.istio.io/status": "{}" } }),
    pod("hostnet", "ambient-demo", { networkMode: "HostNetwork", workloadIps: ["10.253.0.1"] }),
    pod("old", "legacy"),
    pod("elsewhere", "ambient-demo", { node: "node-b" }),
    pod("v6only", "ambient-demo", { workloadIps: ["fd00::10"] }),
  ],
});

Deno.test("in-pod selection: the node's ambient pods with a netns, the rest with reasons, removals listed", () => {
  const sel = selectInpodPods(parseLocalConfig(CONFIG), "node-a");
  assert.deepEqual(sel.captured.map((p) => p.uid), [
    "Kubernetes//Pod/ambient-demo/sleep",
    "Kubernetes//Pod/ambient-demo/v6only",
  ], "in-pod capture needs no IPv4 address");
  assert.deepEqual(sel.captured[0], {
    uid: "Kubernetes//Pod/ambient-demo/sleep",
    name: "sleep",
    namespace: "ambient-demo",
    serviceAccount: "sleep-sa",
    netns: "/var/run/netns/sleep",
    overrides: { ingressMode: true, dnsCapture: false, virtualInterfaces: [] },
  });
  assert.deepEqual(sel.skipped, [
    "ambient-demo/hostnet: pod uses the host network",
    "ambient-demo/nonetns: no netns in the local config",
    "ambient-demo/optout: ambient.istio.io/redirection is disabled",
    "ambient-demo/sidecar: pod has a sidecar (sidecar.istio.io/status is set)",
    "legacy/old: namespace legacy is not labelled istio.io/dataplane-mode=ambient",
  ]);
  assert.deepEqual(
    sel.uncaptured.map((p) => p.name),
    ["optout", "old"],
    "never sidecar or host-network pods",
  );
  assert.deepEqual(
    selectInpodPods(parseLocalConfig(CONFIG), "node-a", { excludeNamespaces: ["ambient-demo"] })
      .captured,
    [],
  );
});

Deno.test("in-pod selection: a pod's key changes with what its rules or its Add depend on, not with the rest", () => {
  const key = (extra: Record<string, unknown>) =>
    inpodPodKey(
      selectInpodPods(
        parseLocalConfig(stringify({
          namespaces: [{ name: "ambient-demo", labels: { "istio.io/dataplane-mode": "ambient" } }],
          workloads: [pod("sleep", "ambient-demo", extra)],
        })),
        "node-a",
      ).captured[0],
    );
  const base = key({});
  assert.equal(key({ labels: { app: "sleep", version: "v2" } }), base);
  assert.notEqual(key({ netns: "/var/run/netns/sleep-2" }), base);
  assert.notEqual(key({ annotations: { "ambient.istio.io/dns-capture": "false" } }), base);
  assert.notEqual(key({ serviceAccount: "other" }), base);
});

Deno.test("local config netns: an absolute path, kept on the workload, never in config_dump", () => {
  const cfg = parseLocalConfig(CONFIG);
  const sleep = cfg.workloads.find((w) => w.name === "sleep")!;
  assert.equal(sleep.netns, "/var/run/netns/sleep");
  assert.ok(!("netns" in cfg.workloads.find((w) => w.name === "nonetns")!), "absent when not given");
  assert.ok(!JSON.stringify(workloadToDump(sleep)).includes("netns"));
  for (const bad of ["sleep", "../netns/sleep", "/var/run/netns/a\nb", 42]) {
    assert.throws(
      () =>
        parseLocalConfig(stringify({ workloads: [pod("sleep", "ambient-demo", { netns: bad })] }), "m.yaml"),
      (e) =>
        e instanceof ZtError && e.kind === "config" &&
        /^m\.yaml: workloads\[0\]\.netns: expected (an absolute path|a string)/.test(e.message),
      `netns ${JSON.stringify(bad)}`,
    );
  }
});
