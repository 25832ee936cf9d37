/**
 * In-pod mode's state manager (ztunnel src/inpod/statemanager.rs): which pods run, decided one ZDS
 * request at a time. Per connection it keeps the uids the snapshot named and the pods that failed to
 * start (pending, retried by the caller); running pods survive reconnects. Del, a reconcile drop and a
 * netns replacement stop a pod at once; `drain()` (zt shutting down) stops every pod gracefully.
 * It owns every netns it is handed: a pod's goes to its RunningPod, the rest are closed here.
 */
import type { NetNamespace } from "../net/netns.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../error.ts";
import type { PodLauncher, RunningPod, WorkloadInfo } from "./pod_launcher.ts";
import type { ZdsReceived } from "./zds_packet.ts";
import type { InpodMetrics } from "./inpod_metrics.ts";
import type { WorkloadStateView } from "./workload_state_view.ts";

/** What a request did: fine, a pod that could not start (NACK, stay connected), or a protocol
 *  violation (NACK, then zt exits with code 1). */
export type PodStatesResult =
  | { readonly kind: "ok" }
  | { readonly kind: "proxy_error"; readonly uid: string; readonly error: string }
  | { readonly kind: "protocol_error"; readonly error: string };

export interface PodStatesOptions {
  readonly launcher: PodLauncher;
  /** Turns a received netns fd into a namespace (NetNamespace.adopt, which closes it if it throws). */
  readonly adopt: (fd: number, uid: string) => NetNamespace;
  /** Closes a received fd that will not be used. */
  readonly closeFd: (fd: number) => void;
  readonly metrics: InpodMetrics;
  readonly view: WorkloadStateView;
  readonly log: Logger;
}

interface Running {
  readonly pod: RunningPod;
  readonly info: WorkloadInfo;
}

interface Pending {
  readonly info: WorkloadInfo;
  readonly netns: NetNamespace;
}

const OK: PodStatesResult = { kind: "ok" };

export class PodStates {
  readonly #o: PodStatesOptions;
  readonly #running = new Map<string, Running>();
  readonly #pending = new Map<string, Pending>();
  readonly #draining = new Set<Promise<void>>();
  #snapshotReceived = false;
  readonly #snapshotNames = new Set<string>();

  constructor(opts: PodStatesOptions) {
    this.#o = opts;
  }

  get snapshotReceived(): boolean {
    return this.#snapshotReceived;
  }

  get hasPending(): boolean {
    return this.#pending.size > 0;
  }

  /** Ready: the snapshot was processed and no pod is waiting to start. */
  get ready(): boolean {
    return this.#snapshotReceived && this.#pending.size === 0;
  }

  runningUids(): string[] {
    return [...this.#running.keys()].sort();
  }

  pendingUids(): string[] {
    return [...this.#pending.keys()].sort();
  }

  /** A new connection: the snapshot starts again and pending pods are dropped (it re-sends them). */
  resetSnapshot(): void {
    this.#snapshotNames.clear();
    for (const uid of [...this.#pending.keys()]) this.#dropPending(uid);
    this.#snapshotReceived = false;
    this.#updateGauges();
  }

  async process(received: ZdsReceived): Promise<PodStatesResult> {
    const log = this.#o.log;
    const req = received.request;
    switch (req.kind) {
      case "add": {
        const fd = received.fd!;
        log.info("pod received, starting proxy", {
          uid: req.uid,
          name: req.info?.name ?? "",
          namespace: req.info?.namespace ?? "",
        });
        if (!req.info) {
          this.#o.closeFd(fd);
          return { kind: "protocol_error", error: "workload_info is required but not present" };
        }
        if (!this.#snapshotReceived) this.#snapshotNames.add(req.uid);
        let netns: NetNamespace;
        try {
          netns = this.#o.adopt(fd, req.uid);
        } catch (e) {
          return { kind: "proxy_error", uid: req.uid, error: errorMessage(e) };
        }
        return await this.#add(req.uid, req.info, netns);
      }
      case "keep":
        log.info("pod keep received. will not delete it when snapshot is sent", { uid: req.uid });
        if (this.#snapshotReceived) {
          return { kind: "protocol_error", error: "pod keep received after snapshot" };
        }
        this.#snapshotNames.add(req.uid);
        return OK;
      case "del":
        log.info("pod delete request, shutting down proxy", { uid: req.uid });
        if (!this.#snapshotReceived) {
          // Still running until the reconcile at SnapshotSent drops it; never-started ones go now.
          this.#snapshotNames.delete(req.uid);
          this.#dropPending(req.uid);
          this.#updateGauges();
          return OK;
        }
        this.#del(req.uid);
        return OK;
      case "snapshot_sent":
        log.info("received snapshot sent");
        if (this.#snapshotReceived) return { kind: "protocol_error", error: "pod snapshot received already" };
        this.#reconcile();
        this.#snapshotReceived = true;
        return OK;
    }
  }

  /** Tries every pending pod again (the caller's timer, every 5 s while connected). */
  async retryPending(): Promise<void> {
    const batch = [...this.#pending];
    this.#pending.clear();
    for (const [uid, p] of batch) {
      this.#o.log.info("retrying workload", { uid });
      const r = await this.#add(uid, p.info, p.netns);
      if (r.kind !== "ok") {
        this.#o.log.info("retrying workload failed", { uid, error: r.kind === "proxy_error" ? r.error : "" });
      }
    }
  }

  /** zt is shutting down: every running pod stops gracefully; pods already stopping are waited for. */
  async drain(): Promise<void> {
    for (const uid of [...this.#pending.keys()]) this.#dropPending(uid);
    const graceful = [...this.#running].map(([uid, r]) => this.#stop(uid, r, "graceful"));
    this.#running.clear();
    this.#updateGauges();
    await Promise.all(graceful);
    await Promise.all([...this.#draining]);
  }

  async #add(uid: string, info: WorkloadInfo, netns: NetNamespace): Promise<PodStatesResult> {
    const existing = this.#running.get(uid);
    if (existing) {
      const id = existing.pod.netnsId;
      if (id.dev === netns.id.dev && id.ino === netns.id.ino) {
        // Idempotent: the same pod sandbox again. The received handle is a duplicate.
        netns.close();
        this.#dropPending(uid);
        this.#updateGauges();
        return OK;
      }
      // The sandbox was re-created with a new netns: the old pod's proxies go, new ones start.
      this.#o.log.info("pod netns changed, replacing its proxies", { uid });
      this.#del(uid);
    }
    this.#o.view.pending(uid, info);
    let pod: RunningPod;
    try {
      pod = await this.#o.launcher.start(uid, info, netns);
    } catch (e) {
      const old = this.#pending.get(uid);
      if (old && old.netns !== netns) old.netns.close();
      this.#pending.set(uid, { info, netns });
      this.#updateGauges();
      return { kind: "proxy_error", uid, error: errorMessage(e) };
    }
    const old = this.#pending.get(uid);
    if (old && old.netns !== netns) old.netns.close();
    this.#pending.delete(uid);
    this.#running.set(uid, { pod, info });
    this.#o.view.up(uid, info, pod);
    this.#o.metrics.proxiesStarted.inc();
    this.#updateGauges();
    return OK;
  }

  #del(uid: string): void {
    this.#dropPending(uid);
    const r = this.#running.get(uid);
    if (r) {
      this.#running.delete(uid);
      this.#track(this.#stop(uid, r, "immediate"));
    }
    this.#updateGauges();
  }

  #reconcile(): void {
    for (const [uid, r] of [...this.#running]) {
      if (this.#snapshotNames.has(uid)) continue;
      this.#o.log.info("pod not in the snapshot, shutting down proxy", { uid });
      this.#running.delete(uid);
      this.#track(this.#stop(uid, r, "immediate"));
    }
    this.#snapshotNames.clear();
    this.#updateGauges();
  }

  #dropPending(uid: string): void {
    const p = this.#pending.get(uid);
    if (!p) return;
    this.#pending.delete(uid);
    p.netns.close();
    if (!this.#running.has(uid)) this.#o.view.forget(uid);
  }

  async #stop(uid: string, r: Running, mode: "immediate" | "graceful"): Promise<void> {
    try {
      await r.pod.stop(mode);
    } catch (e) {
      this.#o.log.warn("pod proxies did not stop cleanly", { uid, mode, error: errorMessage(e) });
    }
    this.#o.metrics.proxiesStopped.inc();
    this.#o.view.down(uid, r.pod);
  }

  #track(p: Promise<void>): void {
    this.#draining.add(p);
    p.finally(() => this.#draining.delete(p));
  }

  #updateGauges(): void {
    this.#o.metrics.activeProxies.set(this.#running.size);
    this.#o.metrics.pendingProxies.set(this.#pending.size);
  }
}
