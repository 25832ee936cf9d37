/**
 * zt's ZDS client against an independent istio-cni written in Python (tests/peers/zds_server.py) that
 * sends real netns fds of namespaces made with `ip netns add`. The launcher here opens a real listener
 * inside each received namespace (setns through the received fd), so the fds are proven usable.
 * Covered: snapshot and acks in order, live Add/Del, a port taken in the pod (NACK, pending, retry),
 * the peer killed and restarted (reconnect, snapshot re-sent, running pods untouched), a truncated
 * packet (NACK, reconnect), and a protocol violation (NACK, exit 1).
 */
import assert from "node:assert/strict";
import { NetNamespace } from "../../lib/net/netns.ts";
import { encodeWorkloadRequest } from "../../lib/inpod/zds_messages.ts";
import type { TcpListener } from "../../lib/net/tcp_listener.ts";
import type { PodLauncher, RunningPod, WorkloadInfo } from "../../lib/inpod/pod_launcher.ts";
import { hasCommand, LineReader, Netns, netnsSkipReason } from "../fakes/netns.ts";
import type { NetKit } from "../net/net_fixture.ts";
import { managerRig, until } from "./zds_fixture.ts";

const PEER = new URL("../peers/zds_server.py", import.meta.url).pathname;
const skip = (await netnsSkipReason(["ip", "ss"])) ?? (hasCommand("python3") ? undefined : "python3 missing");
if (skip) console.log(`zds_python_peer_test: skipped: ${skip}`);

/** Starts each pod's "proxy": a marked, reuse-port listener on 127.0.0.1:15008 inside its namespace. */
class NetnsLauncher implements PodLauncher {
  readonly starts: string[] = [];
  constructor(readonly kit: NetKit) {}
  start(uid: string, _info: WorkloadInfo, netns: NetNamespace): Promise<RunningPod> {
    let l: TcpListener;
    try {
      l = this.kit.factory({ netns, mark: 1337, reusePort: false }).listenTcp({
        ip: "127.0.0.1",
        port: 15008,
      });
    } catch (e) {
      return Promise.reject(e);
    }
    this.starts.push(uid);
    return Promise.resolve({
      netnsId: netns.id,
      stop: () => {
        l.close();
        netns.close();
        return Promise.resolve();
      },
      connections: () => ({ inbound: [], outbound: [] }),
    });
  }
}

interface Peer {
  readonly child: Deno.ChildProcess;
  readonly lines: LineReader;
  command(cmd: Record<string, unknown>): Promise<void>;
  /** The next event line of `event` matching `fields`. */
  event(event: string, fields?: Record<string, unknown>, ms?: number): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

function startPeer(path: string, pods: unknown[]): Peer {
  const child = new Deno.Command("python3", {
    args: [
      PEER,
      "--path",
      path,
      "--pods",
      JSON.stringify(pods),
      "--keepalive-ms",
      "100",
      "--deadline-ms",
      "2000",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = new LineReader(child.stdout);
  const writer = child.stdin.getWriter();
  const enc = new TextEncoder();
  return {
    child,
    lines,
    command: (cmd) => writer.write(enc.encode(JSON.stringify(cmd) + "\n")),
    event: async (event, fields = {}, ms = 5000) => {
      const line = await lines.waitFor((l) => {
        const o = JSON.parse(l);
        return o.event === event && Object.entries(fields).every(([k, v]) => o[k] === v);
      }, ms);
      return JSON.parse(line);
    },
    kill: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await writer.close().catch(() => {});
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function listening(netns: Netns, ns: string): Promise<boolean> {
  return /127\.0\.0\.1:15008\b/.test(await netns.must(ns, ["ss", "-ltnH"]));
}

const pod = (uid: string, name: string, ns?: string) => ({
  uid,
  name,
  namespace: "default",
  serviceAccount: "sleep",
  ...(ns ? { netns: `/var/run/netns/${ns}` } : {}),
});

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/** Namespaces, a peer and a manager whose launcher opens real listeners in the received namespaces. */
async function setup(prefix: string) {
  const netns = new Netns(`${prefix}-${Deno.pid}`);
  await netns.removeStale();
  const dir = await Deno.makeTempDir({ prefix: "zt-zds-py-" });
  const path = `${dir}/ztunnel.sock`;
  let launcher!: NetnsLauncher;
  const rig = managerRig(
    { path, dial: undefined, retryMs: 100 },
    (kit) => (launcher = new NetnsLauncher(kit)),
  );
  return {
    netns,
    path,
    rig,
    launcher,
    close: async (peer?: Peer) => {
      await peer?.kill();
      await rig.close();
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name:
    "zds python peer: snapshot, Add/Del, a pending pod retried, peer restart with pods surviving, truncation",
  ignore: skip !== undefined,
  async fn() {
    const t = await setup("ztzdspy");
    const { netns, rig, launcher } = t;
    const manager = rig.manager;
    let peer: Peer | undefined;
    try {
      const a = await netns.add("a");
      const b = await netns.add("b");
      peer = startPeer(t.path, [pod("uid-a", "a", a), pod("uid-k", "k")]);
      await peer.event("listening");
      manager.start();
      await peer.event("hello", { version: 1 });
      const acks = [];
      for (let i = 0; i < 3; i++) acks.push(await peer.event("ack", { phase: "snapshot" }));
      assert.deepEqual(acks.map((x) => [x.for, x.uid, x.error]), [
        ["add", "uid-a", ""],
        ["keep", "uid-k", ""],
        ["snapshot_sent", "", ""],
      ]);
      await until(() => manager.ready, 5000, "ready");
      assert.ok(await listening(netns, a), "uid-a's listener is inside namespace a");

      // Live Add of b, whose port 15008 is taken: NACK, pending, not ready; freed → retried → ready.
      const podB = NetNamespace.open(rig.kit.libc, `/var/run/netns/${b}`, rig.home);
      const taken = rig.kit.factory({ netns: podB }).listenTcp({ ip: "127.0.0.1", port: 15008 });
      await peer.command({ op: "add", ...pod("uid-b", "b", b) });
      const nack = await peer.event("ack", { for: "add", uid: "uid-b" });
      assert.match(String(nack.error), /^failure to start proxy : .*Address already in use \(os error 98\)/);
      assert.equal(manager.ready, false);
      assert.deepEqual(manager.pendingUids(), ["uid-b"]);
      taken.close();
      podB.close();
      await until(() => manager.ready, 5000, "ready after the retry");
      assert.ok(await listening(netns, b));

      await peer.command({ op: "del", uid: "uid-a" });
      assert.equal((await peer.event("ack", { for: "del", uid: "uid-a" })).error, "");
      assert.equal(await listening(netns, a), false, "uid-a's proxies stopped");

      // Quiet for several keepalive probes (100 ms): zt sends nothing unprompted.
      await new Promise((r) => setTimeout(r, 400));
      await peer.command({ op: "status" });
      assert.equal((await peer.event("status")).connections, 1);

      // istio-cni dies and comes back with uid-b in its cache.
      await peer.kill();
      await until(() => !manager.ready, 5000, "not ready without istio-cni");
      assert.ok(await listening(netns, b), "uid-b keeps serving while istio-cni is away");
      peer = startPeer(t.path, [pod("uid-b", "b", b)]);
      await peer.event("hello", { version: 1 });
      assert.equal((await peer.event("ack", { for: "add", uid: "uid-b" })).error, "");
      assert.equal((await peer.event("ack", { for: "snapshot_sent" })).error, "");
      await until(() => manager.ready, 5000, "ready after the new snapshot");
      assert.deepEqual(launcher.starts, ["uid-a", "uid-b"], "uid-b was not restarted (same netns)");

      // A packet over 1024 bytes: NACK "failure to read message", then the connection is made again.
      const big = encodeWorkloadRequest({ kind: "del", uid: "u".repeat(1100) });
      await peer.command({ op: "raw", hex: hex(big) });
      const trunc = await peer.event("ack", { for: "raw" });
      assert.match(String(trunc.error), /^failure to read message : received truncated message/);
      await peer.event("hello", { version: 1 });
      await peer.event("ack", { for: "snapshot_sent" });
      await until(() => manager.ready, 5000, "ready after reconnecting");
      assert.deepEqual(rig.exits, []);
    } finally {
      await t.close(peer);
    }
  },
});

Deno.test({
  name: "zds python peer: Keep after the snapshot is NACKed and zt exits with code 1",
  ignore: skip !== undefined,
  async fn() {
    const t = await setup("ztzdspyx");
    let peer: Peer | undefined;
    try {
      peer = startPeer(t.path, []);
      await peer.event("listening");
      const exited = t.rig.exited();
      t.rig.manager.start();
      await peer.event("ack", { for: "snapshot_sent" });
      await peer.command({ op: "raw", hex: hex(encodeWorkloadRequest({ kind: "keep", uid: "u1" })) });
      const nack = await peer.event("ack", { for: "raw" });
      assert.equal(nack.error, "failure to process message : pod keep received after snapshot");
      assert.equal(await exited, 1);
      await peer.event("closed");
    } finally {
      await t.close(peer);
    }
  },
});
