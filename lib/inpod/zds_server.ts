/**
 * istio-cni's side of ZDS for one machine (standalone mode, the demo, tests): binds the socket (a
 * leftover file removed first), accepts node proxies (at most 5 a second), keeps the pod cache —
 * uid → WorkloadInfo and an open handle on the pod's netns — and serves each connection its snapshot,
 * then Adds (to the latest connection) and Dels (to every connection). `close()` closes the listener
 * before the connections, so a reconnecting proxy never starts a session on a server going away.
 */
import { type Libc, SyscallError } from "../net/libc.ts";
import { E } from "../net/libc.ts";
import { NetNamespace } from "../net/netns.ts";
import type { Readiness as NetReadiness } from "../net/readiness.ts";
import { SeqpacketListener } from "../net/seqpacket.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../error.ts";
import type { WorkloadInfo } from "./pod_launcher.ts";
import { sleep } from "./backoff.ts";
import {
  CNI_TIMINGS,
  type SnapshotEntry,
  ZdsServerConnection,
  ZdsServerError,
  type ZdsServerTimings,
} from "./zds_server_connection.ts";

export interface ZdsServerOptions {
  readonly path: string;
  readonly libc: Libc;
  readonly readiness: NetReadiness;
  readonly log: Logger;
  /** istio-cni's deadlines and keepalive (tests shorten them). */
  readonly timings?: Partial<ZdsServerTimings>;
  /** Accepts per second (istio-cni: 5, burst 1). */
  readonly acceptsPerSecond?: number;
  /** The pods known before listening (istio-cni builds its snapshot from the node's pods first). */
  readonly pods?: ReadonlyArray<
    { readonly uid: string; readonly info: WorkloadInfo; readonly netnsPath?: string }
  >;
}

interface CachedPod {
  readonly info: WorkloadInfo;
  netns?: NetNamespace;
}

export class ZdsServer {
  readonly #o: ZdsServerOptions;
  readonly #t: ZdsServerTimings;
  readonly #listener: SeqpacketListener;
  readonly #home: NetNamespace;
  readonly #pods = new Map<string, CachedPod>();
  readonly #conns: ZdsServerConnection[] = [];
  readonly #stop = new AbortController();
  readonly #accepting: Promise<void>;
  #nextId = 1;

  private constructor(opts: ZdsServerOptions, listener: SeqpacketListener) {
    this.#o = opts;
    this.#t = { ...CNI_TIMINGS, ...opts.timings };
    this.#listener = listener;
    this.#home = NetNamespace.current(opts.libc);
    for (const p of opts.pods ?? []) this.#cache(p.uid, p.info, p.netnsPath);
    this.#accepting = this.#acceptLoop();
  }

  /** Removes a leftover socket file (anything but "not found" is an error), binds and starts accepting. */
  static async listen(opts: ZdsServerOptions): Promise<ZdsServer> {
    try {
      await Deno.remove(opts.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new ZdsServerError("closed", `failed to remove unix://${opts.path}: ${errorMessage(e)}`);
      }
    }
    const l = SeqpacketListener.listen(opts.libc, opts.readiness, opts.path, 1024);
    opts.log.info("zds server listening", { uds: opts.path });
    return new ZdsServer(opts, l);
  }

  /** Node proxies connected now (istio-cni's ztunnel_connected). */
  get connections(): number {
    return this.#conns.length;
  }

  podUids(): string[] {
    return [...this.#pods.keys()];
  }

  /**
   * Adds (or refreshes) a pod in the cache and sends it to the latest connection. Without `netnsPath`
   * the pod is only cached (snapshots name it with Keep). Rejects with ZdsServerError "no_connection"
   * or "ack_error" (the pod stays cached, as istio-cni's does, for the next snapshot).
   */
  async addPod(uid: string, info: WorkloadInfo, netnsPath?: string): Promise<void> {
    const netns = this.#cache(uid, info, netnsPath);
    if (!netns) return;
    const latest = this.#conns.at(-1);
    if (!latest) throw new ZdsServerError("no_connection", "no ztunnel connection");
    this.#o.log.info("sending pod add to ztunnel", {
      uid,
      name: info.name,
      namespace: info.namespace,
      connection: latest.id,
    });
    const r = await latest.send({ kind: "add", uid, info }, netns);
    if (r.kind === "ack" && r.error) throw new ZdsServerError("ack_error", `got ack error: ${r.error}`);
  }

  /** Puts a pod in the cache, opening its netns (istio-cni keeps one handle per pod, compared by inode). */
  #cache(uid: string, info: WorkloadInfo, netnsPath?: string): NetNamespace | undefined {
    let netns = this.#pods.get(uid)?.netns;
    if (netnsPath !== undefined) {
      const opened = NetNamespace.open(this.#o.libc, netnsPath, this.#home);
      if (netns && netns.id.ino === opened.id.ino) opened.close();
      else {
        netns?.close();
        netns = opened;
      }
    }
    this.#pods.set(uid, { info, netns });
    return netns;
  }

  /** Drops a pod from the cache (closing its netns handle) and sends Del to every connection. */
  async removePod(uid: string): Promise<void> {
    const cached = this.#pods.get(uid);
    this.#pods.delete(uid);
    cached?.netns?.close();
    const results = await Promise.allSettled(this.#conns.map((c) => c.send({ kind: "del", uid })));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length) {
      throw new ZdsServerError("closed", failed.map((f) => errorMessage(f.reason)).join("; "));
    }
  }

  /** Closes the listener, then every connection, then the cached netns handles. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#listener.close();
    await this.#accepting;
    for (const c of this.#conns.splice(0)) c.close();
    for (const p of this.#pods.values()) p.netns?.close();
    this.#pods.clear();
    this.#home.close();
  }

  #snapshot(): SnapshotEntry[] {
    return [...this.#pods].map(([uid, p]): SnapshotEntry =>
      p.netns
        ? { request: { kind: "add", uid, info: p.info }, netns: p.netns }
        : { request: { kind: "keep", uid } }
    );
  }

  async #acceptLoop(): Promise<void> {
    const gap = 1000 / (this.#o.acceptsPerSecond ?? 5);
    let last = -Infinity;
    while (!this.#stop.signal.aborted) {
      const wait = last + gap - performance.now();
      if (wait > 0) await sleep(wait, this.#stop.signal);
      let socket;
      try {
        socket = await this.#listener.accept();
      } catch (e) {
        this.#o.log.error("failed to accept conn", { error: errorMessage(e) });
        if (e instanceof SyscallError && (e.errno === E.EMFILE || e.errno === E.ENFILE)) {
          await sleep(100, this.#stop.signal);
        }
        continue;
      }
      if (!socket) return;
      last = performance.now();
      if (this.#stop.signal.aborted) {
        socket.close();
        return;
      }
      const conn = new ZdsServerConnection(socket, this.#o.libc, this.#o.log, this.#nextId++, this.#t);
      this.#conns.push(conn);
      this.#o.log.info("new ztunnel connected", { connection: conn.id, total: this.#conns.length });
      conn.run(() => this.#snapshot()).finally(() => {
        const i = this.#conns.indexOf(conn);
        if (i >= 0) this.#conns.splice(i, 1);
        this.#o.log.info("ztunnel disconnected", { connection: conn.id, total: this.#conns.length });
      });
    }
  }
}
