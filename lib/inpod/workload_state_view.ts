/**
 * config_dump's `workloadState` (ztunnel src/inpod/admin.rs): ZDS uid → {state: "Pending" | "Up",
 * connections (only when Up), info}. An entry is Pending from the start attempt on, Up once started, and
 * leaves when its last running proxy has stopped (counted, so a pod restarted in a new netns keeps the
 * entry while the old one drains). Unlike ztunnel, a pod that never started leaves when it is deleted
 * (ztunnel keeps a stale "Pending" entry for it).
 */
import type { RunningPod, WorkloadInfo } from "./pod_launcher.ts";

interface Entry {
  state: "Pending" | "Up";
  info: WorkloadInfo;
  pod?: RunningPod;
  /** Started proxies not yet stopped. */
  up: number;
}

export class WorkloadStateView {
  readonly #entries = new Map<string, Entry>();

  pending(uid: string, info: WorkloadInfo): void {
    const e = this.#entries.get(uid);
    if (e) e.state = "Pending";
    else this.#entries.set(uid, { state: "Pending", info, up: 0 });
  }

  up(uid: string, info: WorkloadInfo, pod: RunningPod): void {
    const e = this.#entries.get(uid) ?? { state: "Up", info, up: 0 };
    e.state = "Up";
    e.info = info;
    e.pod = pod;
    e.up++;
    this.#entries.set(uid, e);
  }

  /** A started proxy of `uid` has stopped. */
  down(uid: string, pod: RunningPod): void {
    const e = this.#entries.get(uid);
    if (!e || e.up === 0) return;
    e.up--;
    if (e.pod === pod) e.pod = undefined;
    // A pod that went Pending meanwhile (restarted in a new netns, failing) stays listed.
    if (e.up === 0 && e.state === "Up") this.#entries.delete(uid);
  }

  /** A pod that never started is no longer wanted (deleted, or dropped on reconnect). */
  forget(uid: string): void {
    const e = this.#entries.get(uid);
    if (e && e.up === 0) this.#entries.delete(uid);
  }

  /** The JSON of config_dump's `workloadState`, keyed by uid in sorted order. */
  toJson(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const uid of [...this.#entries.keys()].sort()) {
      const e = this.#entries.get(uid)!;
      const info = { name: e.info.name, namespace: e.info.namespace, serviceAccount: e.info.serviceAccount };
      out[uid] = e.state === "Up" && e.pod
        ? { state: e.state, connections: e.pod.connections(), info }
        : { state: e.state, info };
    }
    return out;
  }
}
