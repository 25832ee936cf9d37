/**
 * Ambient pod selection, as istio-cni decides it (Istio's ambient guide, "Pod selection logic"):
 * a pod is captured only if its namespace is labelled `istio.io/dataplane-mode=ambient`, it carries
 * no `sidecar.istio.io/status` annotation (a sidecar wins) and `ambient.istio.io/redirection` is not
 * `disabled`. Host-network pods and namespaces excluded from the CNI are never captured. Pure.
 */
import type { LocalConfig, NamespaceInfo } from "./local_config.ts";
import type { Workload } from "./types.ts";

export const DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode";
export const SIDECAR_STATUS_ANNOTATION = "sidecar.istio.io/status";
export const REDIRECTION_ANNOTATION = "ambient.istio.io/redirection";

export type AmbientDecision =
  | { readonly captured: true; readonly reason: string }
  | { readonly captured: false; readonly reason: string };

/** The pod facts selection looks at (a Workload has them all). */
export type AmbientPod = Pick<Workload, "name" | "namespace" | "labels" | "annotations" | "networkMode">;

export interface AmbientSelectionOptions {
  /** istio-cni's `excludeNamespaces`: never captured. */
  readonly excludeNamespaces?: readonly string[];
}

/** Whether `pod` is captured, given its namespace's labels (undefined: namespace unknown). */
export function selectAmbient(
  pod: AmbientPod,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
  opts: AmbientSelectionOptions = {},
): AmbientDecision {
  if (opts.excludeNamespaces?.includes(pod.namespace)) {
    return { captured: false, reason: `namespace ${pod.namespace} is excluded from capture` };
  }
  const mode = namespaceLabels?.[DATAPLANE_MODE_LABEL];
  if (mode !== "ambient") {
    return {
      captured: false,
      reason: namespaceLabels === undefined
        ? `namespace ${pod.namespace} is unknown (not labelled ${DATAPLANE_MODE_LABEL}=ambient)`
        : `namespace ${pod.namespace} is not labelled ${DATAPLANE_MODE_LABEL}=ambient`,
    };
  }
  if (pod.annotations[SIDECAR_STATUS_ANNOTATION] !== undefined) {
    return { captured: false, reason: `pod has a sidecar (${SIDECAR_STATUS_ANNOTATION} is set)` };
  }
  if (pod.annotations[REDIRECTION_ANNOTATION] === "disabled") {
    return { captured: false, reason: `${REDIRECTION_ANNOTATION} is disabled` };
  }
  if (pod.networkMode === "HostNetwork") {
    return { captured: false, reason: "pod uses the host network" };
  }
  return { captured: true, reason: `namespace ${pod.namespace} is ${DATAPLANE_MODE_LABEL}=ambient` };
}

/** Namespace name → labels, from the local config's `namespaces`. */
export function namespaceLabels(
  namespaces: readonly NamespaceInfo[],
): Map<string, Readonly<Record<string, string>>> {
  return new Map(namespaces.map((n) => [n.name, n.labels]));
}

/** Whether a pod speaks HBONE by itself (a sidecar proxy), so it stays a mesh peer uncaptured. */
export function hasSidecar(pod: Pick<Workload, "annotations">): boolean {
  return pod.annotations[SIDECAR_STATUS_ANNOTATION] !== undefined;
}

/**
 * The config as istiod would publish it once the CNI has acted: a pod that is neither captured nor a
 * sidecar is not reachable over HBONE, so its protocol becomes TCP (peers send it plain TCP, and its
 * node serves no HBONE listener for it). Captured pods and sidecars keep what the config says.
 */
export function applyAmbientSelection(cfg: LocalConfig, opts: AmbientSelectionOptions = {}): LocalConfig {
  const labels = namespaceLabels(cfg.namespaces);
  let changed = false;
  const workloads = cfg.workloads.map((w) => {
    if (w.protocol !== "HBONE" || hasSidecar(w)) return w;
    if (selectAmbient(w, labels.get(w.namespace), opts).captured) return w;
    changed = true;
    return { ...w, protocol: "TCP" as const };
  });
  return changed ? { ...cfg, workloads } : cfg;
}

export interface NodePodDecision {
  readonly pod: Workload;
  /** The pod's IPv4 address (capture is IPv4 only). */
  readonly ip?: string;
  readonly decision: AmbientDecision;
}

/** Every pod of `node` in the config with its capture decision, sorted by namespace/name. */
export function nodePodDecisions(
  cfg: Pick<LocalConfig, "workloads" | "namespaces">,
  node: string,
  opts: AmbientSelectionOptions = {},
): NodePodDecision[] {
  const labels = namespaceLabels(cfg.namespaces);
  return cfg.workloads
    .filter((w) => w.node === node)
    .map((pod): NodePodDecision => {
      const ip = pod.workloadIps.find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
      let decision = selectAmbient(pod, labels.get(pod.namespace), opts);
      if (decision.captured && ip === undefined) {
        decision = { captured: false, reason: "pod has no IPv4 address" };
      }
      return { pod, ip, decision };
    })
    .sort((a, b) => `${a.pod.namespace}/${a.pod.name}`.localeCompare(`${b.pod.namespace}/${b.pod.name}`));
}
