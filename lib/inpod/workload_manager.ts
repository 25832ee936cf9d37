/**
 * In-pod mode's manager (ztunnel src/inpod/workloadmanager.rs): the ZDS client feeding the state
 * manager, the 5 s retry of pods that failed to start, readiness task "workload proxy manager" (ready
 * once the snapshot is processed and nothing is pending; not ready on a disconnect or while a pod is
 * pending), the workload_manager_* metrics and config_dump's `workloadState`. A protocol violation from
 * istio-cni is NACKed and then ends the process with exit code 1, as ztunnel does.
 */
import type { Libc } from "../net/libc.ts";
import { NetNamespace } from "../net/netns.ts";
import type { Readiness as NetReadiness } from "../net/readiness.ts";
import type { SeqpacketSocket } from "../net/seqpacket.ts";
import type { Readiness } from "../admin/readiness.ts";
import type { Registry } from "../metrics/registry.ts";
import type { Logger } from "../log/logger.ts";
import type { PodLauncher } from "./pod_launcher.ts";
import { AnnounceBackoff, ConnectBackoff, sleep } from "./backoff.ts";
import { InpodMetrics } from "./inpod_metrics.ts";
import { PodStates } from "./pod_states.ts";
import { WorkloadStateView } from "./workload_state_view.ts";
import { ZdsClient, type ZdsHandler, type ZdsOutcome } from "./zds_client.ts";
import type { ZdsReceived } from "./zds_packet.ts";

export const READINESS_TASK = "workload proxy manager";
/** ztunnel's RETRY_DURATION for pods that failed to start. */
export const RETRY_MS = 5_000;

export interface WorkloadManagerOptions {
  /** INPOD_UDS: istio-cni's ZDS socket. */
  readonly path: string;
  readonly libc: Libc;
  readonly netReadiness: NetReadiness;
  /** zt's own network namespace (received pod namespaces switch back to it). */
  readonly home: NetNamespace;
  readonly readiness: Readiness;
  readonly registry: Registry;
  readonly launcher: PodLauncher;
  readonly log: Logger;
  /** Ends the process (Deno.exit); called with 1 after a protocol violation. */
  readonly exit: (code: number) => void;
  readonly retryMs?: number;
  readonly connectBackoff?: () => ConnectBackoff;
  readonly announceBackoff?: AnnounceBackoff;
  /** Makes the ZDS connection (default: connect to `path`); tests pass socket pairs. */
  readonly dial?: () => Promise<SeqpacketSocket>;
}

export class WorkloadManager {
  readonly #o: WorkloadManagerOptions;
  readonly #client: ZdsClient;
  readonly #states: PodStates;
  readonly #view = new WorkloadStateView();
  readonly metrics: InpodMetrics;
  #unblock?: () => void;
  #retry?: { readonly due: Promise<void>; readonly cancel: AbortController };
  #run?: Promise<void>;

  constructor(opts: WorkloadManagerOptions) {
    this.#o = opts;
    this.metrics = new InpodMetrics(opts.registry);
    this.#notReady();
    this.#client = new ZdsClient({
      path: opts.path,
      libc: opts.libc,
      readiness: opts.netReadiness,
      log: opts.log,
      connectBackoff: opts.connectBackoff ?? (() => new ConnectBackoff()),
      announceBackoff: opts.announceBackoff,
      dial: opts.dial,
    });
    this.#states = new PodStates({
      launcher: opts.launcher,
      adopt: (fd, uid) => NetNamespace.adopt(opts.libc, fd, `pod ${uid}`, opts.home),
      closeFd: (fd) => opts.libc.closeFd(fd),
      metrics: this.metrics,
      view: this.#view,
      log: opts.log,
    });
  }

  /** Connects to istio-cni and serves its requests until `stop()`. */
  start(): void {
    if (this.#run) return;
    this.#o.log.info("workload proxy manager is running", { uds: this.#o.path });
    this.#run = this.#client.run(this.#handler()).then((end) => {
      this.#cancelRetry();
      if (end.kind !== "fatal") return;
      this.#notReady();
      this.#o.log.error("protocol mismatch error while processing stream, shutting down", {
        error: end.error,
      });
      this.#o.exit(1);
    });
  }

  /** zt is shutting down: stop reading istio-cni, then stop every pod gracefully. */
  async stop(): Promise<void> {
    this.#client.stop();
    await this.#run;
    await this.#states.drain();
  }

  /** config_dump's `workloadState`. */
  workloadState(): Record<string, unknown> {
    return this.#view.toJson();
  }

  get ready(): boolean {
    return this.#unblock === undefined;
  }

  /** How many connections to istio-cni were made (tests, logs). */
  get connections(): number {
    return this.#client.connections;
  }

  runningUids(): string[] {
    return this.#states.runningUids();
  }

  pendingUids(): string[] {
    return this.#states.pendingUids();
  }

  #handler(): ZdsHandler {
    return {
      connected: () => {
        this.#cancelRetry();
        this.#states.resetSnapshot();
      },
      handle: (r) => this.#handle(r),
      disconnected: (reason) => {
        this.#o.log.warn("process stream ended", { reason });
        this.#cancelRetry();
        this.#notReady();
      },
      timer: () => this.#retry?.due,
      tick: async () => {
        this.#retry = undefined;
        await this.#states.retryPending();
        if (this.#states.hasPending) this.#scheduleRetry();
        this.#checkReady();
      },
    };
  }

  async #handle(r: ZdsReceived): Promise<ZdsOutcome> {
    const result = await this.#states.process(r);
    switch (result.kind) {
      case "ok":
        this.#checkReady();
        return { kind: "ack" };
      case "proxy_error":
        this.#o.log.error("failed to start proxy", { uid: result.uid, error: result.error });
        this.#scheduleRetry();
        this.#checkReady();
        return { kind: "nack", error: `failure to start proxy : ${result.error}` };
      case "protocol_error":
        this.#o.log.error("failed to process message", { error: result.error });
        return { kind: "fatal", error: `failure to process message : ${result.error}` };
    }
  }

  #scheduleRetry(): void {
    if (this.#retry) return;
    this.#o.log.info("scheduling retry", { uids: this.#states.pendingUids().join(",") });
    const cancel = new AbortController();
    const ms = this.#o.retryMs ?? RETRY_MS;
    // A cancelled retry never resolves: the session it belonged to is gone.
    const due = sleep(ms, cancel.signal).then(() =>
      cancel.signal.aborted ? new Promise<void>(() => {}) : undefined
    );
    this.#retry = { due, cancel };
  }

  #cancelRetry(): void {
    this.#retry?.cancel.abort();
    this.#retry = undefined;
  }

  #checkReady(): void {
    if (this.#states.ready) this.#markReady();
    else this.#notReady();
  }

  #markReady(): void {
    if (this.#unblock) {
      this.#o.log.debug("workload proxy manager is ready");
      this.#unblock();
      this.#unblock = undefined;
    }
    this.#client.resetAnnounceBackoff();
  }

  #notReady(): void {
    this.#unblock ??= this.#o.readiness.register(READINESS_TASK);
  }
}
