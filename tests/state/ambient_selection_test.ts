/** Ambient pod selection as the guide gives it, the protocol a config gets from it, and a node's pods. */
import assert from "node:assert/strict";
import {
  applyAmbientSelection,
  nodePodDecisions,
  REDIRECTION_ANNOTATION,
  selectAmbient,
  SIDECAR_STATUS_ANNOTATION,
} from "../../lib/state/ambient_selection.ts";
import type { LocalConfig } from "../../lib/state/local_config.ts";
import { workload } from "./fixtures.ts";

const AMBIENT = { "istio.io/dataplane-mode": "ambient" };

Deno.test("ambient selection: a pod in a namespace labelled istio.io/dataplane-mode=ambient is captured", () => {
  const d = selectAmbient(workload({ name: "sleep", namespace: "ambient-demo" }), AMBIENT);
  assert.deepEqual(d, {
    captured: true,
    reason: "namespace ambient-demo is istio.io/dataplane-mode=ambient",
  });
});

Deno.test("ambient selection: each rule of the guide excludes a pod, with its reason", () => {
  const pod = (extra: Parameters<typeof workload>[0]) => workload({ namespace: "ns1", ...extra });
  const cases: Array<[string, ReturnType<typeof selectAmbient>]> = [
    ["unlabelled namespace", selectAmbient(pod({ name: "a" }), {})],
    ["other mode", selectAmbient(pod({ name: "a" }), { "istio.io/dataplane-mode": "none" })],
    ["unknown namespace", selectAmbient(pod({ name: "a" }), undefined)],
    [
      "sidecar",
      selectAmbient(pod({ name: "a", annotations: { [SIDECAR_STATUS_ANNOTATION]: "{}" } }), AMBIENT),
    ],
    [
      "redirection disabled",
      selectAmbient(pod({ name: "a", annotations: { [REDIRECTION_ANNOTATION]: "disabled" } }), AMBIENT),
    ],
    ["host network", selectAmbient(pod({ name: "a", networkMode: "HostNetwork" }), AMBIENT)],
    ["excluded", selectAmbient(pod({ name: "a" }), AMBIENT, { excludeNamespaces: ["kube-system", "ns1"] })],
  ];
  const reasons = cases.map(([what, d]) => {
    assert.equal(d.captured, false, what);
    return d.reason;
  });
  assert.deepEqual(reasons, [
    "namespace ns1 is not labelled istio.io/dataplane-mode=ambient",
    "namespace ns1 is not labelled istio.io/dataplane-mode=ambient",
    "namespace ns1 is unknown (not labelled istio.io/dataplane-mode=ambient)",
    "pod has a sidecar (sidecar.istio.io/status is set)",
    "ambient.istio.io/redirection is disabled",
    "pod uses the host network",
    "namespace ns1 is excluded from capture",
  ]);
  // Any other value of the redirection annotation (the CNI writes "enabled") keeps the pod captured.
  const enabled = pod({ name: "a", annotations: { [REDIRECTION_ANNOTATION]: "enabled" } });
  assert.equal(selectAmbient(enabled, AMBIENT).captured, true);
  // Pod labels do not stand in for the namespace label.
  assert.equal(selectAmbient(pod({ name: "a", labels: AMBIENT }), {}).captured, false);
});

function config(workloads: LocalConfig["workloads"]): LocalConfig {
  return {
    workloads,
    services: [],
    policies: [],
    istioDocuments: [],
    namespaces: [{ name: "ambient-demo", labels: AMBIENT }, { name: "client-a", labels: {} }],
  };
}

Deno.test("ambient selection: pods neither captured nor sidecars are published as TCP, the rest unchanged", () => {
  const cfg = config([
    workload({ name: "sleep", namespace: "ambient-demo" }),
    workload({
      name: "off",
      namespace: "ambient-demo",
      annotations: { [REDIRECTION_ANNOTATION]: "disabled" },
    }),
    workload({ name: "legacy", namespace: "client-a" }),
    workload({ name: "side", namespace: "client-a", annotations: { [SIDECAR_STATUS_ANNOTATION]: "{}" } }),
    workload({ name: "plain", namespace: "client-a", protocol: "TCP" }),
  ]);
  const out = applyAmbientSelection(cfg);
  assert.deepEqual(out.workloads.map((w) => `${w.name}:${w.protocol}`), [
    "sleep:HBONE",
    "off:TCP",
    "legacy:TCP",
    "side:HBONE",
    "plain:TCP",
  ]);
  assert.equal(out.workloads[0], cfg.workloads[0], "unchanged workloads are the same objects");
  const allAmbient = config([workload({ name: "sleep", namespace: "ambient-demo" })]);
  assert.equal(applyAmbientSelection(allAmbient), allAmbient, "nothing to change: the same config");
});

Deno.test("ambient selection: a node's pods, sorted, with their IPv4 address and decision", () => {
  const cfg = config([
    workload({ name: "z", namespace: "ambient-demo", node: "node-a", workloadIps: ["fd00::1", "10.0.0.3"] }),
    workload({ name: "a", namespace: "client-a", node: "node-a", workloadIps: ["10.0.0.1"] }),
    workload({ name: "v6", namespace: "ambient-demo", node: "node-a", workloadIps: ["fd00::2"] }),
    workload({ name: "elsewhere", namespace: "ambient-demo", node: "node-b", workloadIps: ["10.0.1.1"] }),
  ]);
  const got = nodePodDecisions(cfg, "node-a").map((
    d,
  ) => [`${d.pod.namespace}/${d.pod.name}`, d.ip, d.decision.captured]);
  assert.deepEqual(got, [
    ["ambient-demo/v6", undefined, false],
    ["ambient-demo/z", "10.0.0.3", true],
    ["client-a/a", "10.0.0.1", false],
  ]);
  assert.equal(nodePodDecisions(cfg, "node-a")[0].decision.reason, "pod has no IPv4 address");
});
