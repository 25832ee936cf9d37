/**
 * Which of a node's pods get istio-cni's in-pod rules, from the local config: the ambient selection of
 * lib/state/ambient_selection.ts, among the node's pods that name their network namespace (`netns:`).
 * Pods left alone are listed with the reason; pods that must have no rules (on the node, with a netns,
 * not selected) are listed too, so a re-run removes rules from a pod that left the mesh. Sidecar and
 * host-network pods are never touched: their namespaces are not ours. Pure.
 */
import type { LocalConfig } from "../state/local_config.ts";
import {
  type AmbientSelectionOptions,
  hasSidecar,
  namespaceLabels,
  selectAmbient,
} from "../state/ambient_selection.ts";
import type { Workload } from "../state/types.ts";
import { type PodOverrides, podOverrides } from "./pod_overrides.ts";

/** A pod as istio-cni enrols it: ZDS uid and WorkloadInfo, its namespace file and its overrides. */
export interface InpodPod {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly netns: string;
  readonly overrides: PodOverrides;
}

export interface InpodSelection {
  /** Pods to capture, sorted by namespace/name. */
  readonly captured: InpodPod[];
  /** Pods of the node with a netns that must carry no in-pod rules. */
  readonly uncaptured: InpodPod[];
  /** "ns/name: reason" for every pod of the node not captured. */
  readonly skipped: string[];
}

function toPod(w: Workload & { netns: string }): InpodPod {
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    serviceAccount: w.serviceAccount,
    netns: w.netns,
    overrides: podOverrides(w.annotations),
  };
}

export function selectInpodPods(
  cfg: Pick<LocalConfig, "workloads" | "namespaces">,
  node: string,
  opts: AmbientSelectionOptions = {},
): InpodSelection {
  const labels = namespaceLabels(cfg.namespaces);
  const out: InpodSelection = { captured: [], uncaptured: [], skipped: [] };
  const pods = cfg.workloads
    .filter((w) => w.node === node)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const w of pods) {
    const who = `${w.namespace}/${w.name}`;
    const decision = selectAmbient(w, labels.get(w.namespace), opts);
    if (w.netns === undefined) {
      out.skipped.push(`${who}: ${decision.captured ? "no netns in the local config" : decision.reason}`);
      continue;
    }
    const pod = toPod({ ...w, netns: w.netns });
    if (decision.captured) {
      out.captured.push(pod);
      continue;
    }
    out.skipped.push(`${who}: ${decision.reason}`);
    if (!hasSidecar(w) && w.networkMode !== "HostNetwork") out.uncaptured.push(pod);
  }
  return out;
}

/** What of a pod, once enrolled, changes its rules or its ZDS Add (a change means install again). */
export function inpodPodKey(p: InpodPod): string {
  return JSON.stringify([p.netns, p.name, p.namespace, p.serviceAccount, p.overrides]);
}
