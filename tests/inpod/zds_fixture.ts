/**
 * In-process pieces for testing zt's ZDS side: a scripted istio-cni end on a socket pair, a recording
 * PodLauncher (the real one is lib/proxy's), fd helpers, and a WorkloadManager wired to them.
 */
import assert from "node:assert/strict";
import { C, type Libc } from "../../lib/net/libc.ts";
import { NetNamespace, type NetnsId } from "../../lib/net/netns.ts";
import { SeqpacketSocket } from "../../lib/net/seqpacket.ts";
import { Readiness } from "../../lib/admin/readiness.ts";
import { Registry } from "../../lib/metrics/registry.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import type { PodLauncher, RunningPod, WorkloadInfo } from "../../lib/inpod/pod_launcher.ts";
import { WorkloadManager, type WorkloadManagerOptions } from "../../lib/inpod/workload_manager.ts";
import { ConnectBackoff } from "../../lib/inpod/backoff.ts";
import {
  decodeHello,
  decodeWorkloadResponse,
  encodeWorkloadRequest,
  type ZdsRequest,
  type ZdsResponse,
} from "../../lib/inpod/zds_messages.ts";
import { type NetKit, netKit } from "../net/net_fixture.ts";

export const INFO: WorkloadInfo = { name: "n", namespace: "ns", serviceAccount: "sa" };

export function openFd(libc: Libc, path: string): number {
  return libc.check(
    libc.sym.open(new TextEncoder().encode(`${path}\0`), C.O_RDONLY | C.O_CLOEXEC),
    "open",
    path,
  );
}

/** This process's open network-namespace fds (to prove none leaked; other fds come and go). */
export function netnsFdCount(): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith("net:[")) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}

/** istio-cni's end of one connection, driven step by step by a test. */
export class FakeCni {
  constructor(readonly socket: SeqpacketSocket, readonly libc: Libc) {}

  async hello(): Promise<number> {
    const p = await this.socket.recv(1024);
    assert.ok(p, "hello expected, got end of stream");
    const h = decodeHello(p.data);
    assert.ok(h.ok);
    return h.message.version;
  }

  /** Sends one request (with the fd of `netnsPath` for Add) and returns the ack read after it. */
  async request(req: ZdsRequest, netnsPath?: string): Promise<ZdsResponse> {
    await this.send(encodeWorkloadRequest(req), netnsPath ? [netnsPath] : []);
    return await this.ack();
  }

  async send(bytes: Uint8Array, fdPaths: readonly string[] = []): Promise<void> {
    const fds = fdPaths.map((p) => openFd(this.libc, p));
    try {
      await this.socket.send(bytes, fds);
    } finally {
      for (const fd of fds) this.libc.closeFd(fd);
    }
  }

  async ack(): Promise<ZdsResponse> {
    const p = await this.socket.recv(1024);
    assert.ok(p, "ack expected, got end of stream");
    const r = decodeWorkloadResponse(p.data);
    assert.ok(r.ok);
    return r.message;
  }

  /** Resolves with the next packet (null at end of stream). */
  next(): ReturnType<SeqpacketSocket["recv"]> {
    return this.socket.recv(1024);
  }

  close(): void {
    this.socket.close();
  }
}

export const OK_ACK: ZdsResponse = { kind: "ack", error: "" };

export interface FakePod extends RunningPod {
  readonly uid: string;
  readonly netns: NetNamespace;
  readonly stops: Array<"immediate" | "graceful">;
}

/** Records starts and stops; `failures` makes the next N starts of a uid reject. */
export class FakeLauncher implements PodLauncher {
  readonly started: FakePod[] = [];
  readonly failures = new Map<string, number>();
  /** Stops wait for this (tests of draining). */
  stopGate: Promise<void> = Promise.resolve();

  start(uid: string, _info: WorkloadInfo, netns: NetNamespace): Promise<RunningPod> {
    const left = this.failures.get(uid) ?? 0;
    if (left > 0) {
      this.failures.set(uid, left - 1);
      return Promise.reject(new Error(`bind 15008 in pod ${uid}: EADDRINUSE`));
    }
    const stops: Array<"immediate" | "graceful"> = [];
    const pod: FakePod = {
      uid,
      netns,
      stops,
      netnsId: netns.id,
      stop: async (mode) => {
        stops.push(mode);
        await this.stopGate;
        netns.close();
      },
      connections: () => ({ inbound: [], outbound: [{ uid }] }),
    };
    this.started.push(pod);
    return Promise.resolve(pod);
  }

  live(): string[] {
    return this.started.filter((p) => p.stops.length === 0).map((p) => p.uid).sort();
  }
}

/** Socket pairs as connections: each dial hands the client one end and queues the other for the test. */
export class PairDialer {
  readonly #waiting: Array<(c: FakeCni) => void> = [];
  readonly #ready: FakeCni[] = [];
  /** While set, dials fail (istio-cni not up). */
  refuse = false;
  /** The next this many connections are closed by istio-cni at once (the hello cannot be sent). */
  hangUp = 0;
  dials = 0;

  constructor(readonly kit: NetKit) {}

  dial = (): Promise<SeqpacketSocket> => {
    this.dials++;
    if (this.refuse) return Promise.reject(new Error("connect: ECONNREFUSED"));
    const [client, server] = SeqpacketSocket.pair(this.kit.libc, this.kit.readiness);
    if (this.hangUp > 0) {
      this.hangUp--;
      server.close();
      return Promise.resolve(client);
    }
    const cni = new FakeCni(server, this.kit.libc);
    const w = this.#waiting.shift();
    if (w) w(cni);
    else this.#ready.push(cni);
    return Promise.resolve(client);
  };

  /** The next connection the client makes. */
  accept(): Promise<FakeCni> {
    const c = this.#ready.shift();
    if (c) return Promise.resolve(c);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

export interface ManagerRig {
  readonly kit: NetKit;
  readonly home: NetNamespace;
  readonly launcher: FakeLauncher;
  readonly dialer: PairDialer;
  readonly readiness: Readiness;
  readonly registry: Registry;
  readonly manager: WorkloadManager;
  readonly exits: number[];
  /** Resolves at the next exit() call. */
  exited(): Promise<number>;
  close(): Promise<void>;
}

/** `makeLauncher` replaces the recording launcher with another (e.g. one opening real sockets). */
export function managerRig(
  opts: Partial<WorkloadManagerOptions> = {},
  makeLauncher?: (kit: NetKit, home: NetNamespace) => PodLauncher,
): ManagerRig {
  const kit = netKit();
  const home = NetNamespace.current(kit.libc);
  const launcher = new FakeLauncher();
  const dialer = new PairDialer(kit);
  const readiness = new Readiness();
  const registry = new Registry();
  const exits: number[] = [];
  const exitWaiters: Array<(c: number) => void> = [];
  const manager = new WorkloadManager({
    path: "/nonexistent/ztunnel.sock",
    libc: kit.libc,
    netReadiness: kit.readiness,
    home,
    readiness,
    registry,
    launcher: makeLauncher ? makeLauncher(kit, home) : launcher,
    log: silentLogger("inpod"),
    exit: (code) => {
      exits.push(code);
      for (const w of exitWaiters.splice(0)) w(code);
    },
    connectBackoff: () => new ConnectBackoff(1, 20),
    dial: dialer.dial,
    ...opts,
  });
  return {
    kit,
    home,
    launcher,
    dialer,
    readiness,
    registry,
    manager,
    exits,
    exited: () => new Promise((r) => exitWaiters.push(r)),
    close: async () => {
      await manager.stop();
      home.close();
      kit.close();
    },
  };
}

/** A metric's value in the registry's text output (undefined when absent). */
export function metricValue(registry: Registry, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(registry.encode());
  return m ? Number(m[1]) : undefined;
}

export function sameId(a: NetnsId, b: NetnsId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Polls `cond` every 5 ms until it holds (or fails after `ms`). */
export async function until(cond: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
