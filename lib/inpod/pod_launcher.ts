/**
 * The seam between in-pod mode's state manager (lib/inpod) and the per-pod proxies (lib/proxy): the
 * state manager decides which pods run; a PodLauncher starts them and a RunningPod stops them.
 */
import type { NetNamespace, NetnsId } from "../net/netns.ts";

/** Who a pod is, as istio-cni names it in AddWorkload (matched against xDS by all three). */
export interface WorkloadInfo {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export interface PodLauncher {
  /** Starts the pod's proxies inside `netns`. Rejects (e.g. a port taken in the pod) → the pod goes
   *  pending; on rejection the caller still owns `netns`; on success the RunningPod owns it. */
  start(uid: string, info: WorkloadInfo, netns: NetNamespace): Promise<RunningPod>;
}

export interface RunningPod {
  readonly netnsId: NetnsId;
  /** immediate: listeners and connections close now; graceful: stop accepting, finish by the deadline. */
  stop(mode: "immediate" | "graceful"): Promise<void>;
  /** For config_dump's workloadState: the pod's live connections. */
  connections(): { inbound: unknown[]; outbound: unknown[] };
}
