/**
 * zt's istio-cni side (ZdsServer) against a scripted node proxy: hello deadline, snapshot with one ack
 * per message, Add to the latest connection and Del to all, NACKs, the keepalive probe (an unprompted
 * packet is a protocol error), late acks matched by order, leftover socket files, close order.
 */
import assert from "node:assert/strict";
import { SeqpacketSocket } from "../../lib/net/seqpacket.ts";
import { E, SyscallError } from "../../lib/net/libc.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { ZdsServer } from "../../lib/inpod/zds_server.ts";
import { ZdsServerError } from "../../lib/inpod/zds_server_connection.ts";
import {
  decodeWorkloadRequest,
  encodeAck,
  encodeHello,
  type ZdsRequest,
} from "../../lib/inpod/zds_messages.ts";
import { type NetKit, netKit } from "../net/net_fixture.ts";
import { INFO, until } from "./zds_fixture.ts";

const SELF = "/proc/self/ns/net";

/** A node proxy speaking ZDS by hand. */
class Proxy {
  constructor(readonly s: SeqpacketSocket) {}
  static async connect(kit: NetKit, path: string, hello = true): Promise<Proxy> {
    const p = new Proxy(await SeqpacketSocket.connect(kit.libc, kit.readiness, path));
    if (hello) await p.s.send(encodeHello());
    return p;
  }
  /** The next request (and whether an fd came with it), or null at end of stream. */
  async next(): Promise<{ req: ZdsRequest; fds: number } | null> {
    // A peer that closes with our packet unread makes the kernel report ECONNRESET: an end too.
    const p = await this.s.recv(1024).catch((e) => {
      if (e instanceof SyscallError && e.errno === E.ECONNRESET) return null;
      throw e;
    });
    if (!p) return null;
    for (const fd of p.fds) kitLibc!.closeFd(fd);
    const d = decodeWorkloadRequest(p.data);
    assert.ok(d.ok);
    return { req: d.message, fds: p.fds.length };
  }
  ack(error = ""): Promise<void> {
    return this.s.send(encodeAck(error));
  }
}
let kitLibc: NetKit["libc"] | undefined;

async function rig(timings = { deadlineMs: 300, keepaliveMs: 100, probeMs: 10 }) {
  const kit = netKit();
  kitLibc = kit.libc;
  const dir = await Deno.makeTempDir({ prefix: "zt-zds-server-" });
  const path = `${dir}/ztunnel.sock`;
  const server = await ZdsServer.listen({
    path,
    libc: kit.libc,
    readiness: kit.readiness,
    log: silentLogger("zds"),
    timings,
    acceptsPerSecond: 1000,
  });
  return {
    kit,
    path,
    server,
    close: async () => {
      await server.close();
      await Deno.remove(dir, { recursive: true });
      kit.close();
    },
  };
}

Deno.test("zds server: snapshot is Add+fd for pods with a netns, Keep for the rest, then SnapshotSent, one ack each", async () => {
  const r = await rig();
  await assert.rejects(
    r.server.addPod("u1", INFO, SELF),
    (e) => e instanceof ZdsServerError && e.reason === "no_connection",
  );
  await r.server.addPod("u2", INFO); // no netns: Keep
  const p = await Proxy.connect(r.kit, r.path);
  assert.deepEqual(await p.next(), { req: { kind: "add", uid: "u1", info: INFO }, fds: 1 });
  // Nothing more until the ack.
  const following = p.next();
  assert.equal(
    await Promise.race([following, new Promise((res) => setTimeout(() => res("waiting"), 50))]),
    "waiting",
  );
  await p.ack();
  assert.deepEqual(await following, { req: { kind: "keep", uid: "u2" }, fds: 0 });
  await p.ack("not this one");
  assert.deepEqual(await p.next(), { req: { kind: "snapshot_sent" }, fds: 0 });
  await p.ack();
  await until(() => r.server.connections === 1);

  // Live Add: goes out at once, its NACK is the caller's error.
  const added = r.server.addPod("u3", INFO, SELF);
  assert.deepEqual(await p.next(), { req: { kind: "add", uid: "u3", info: INFO }, fds: 1 });
  await p.ack("failure to start proxy : port taken");
  await assert.rejects(added, /got ack error: failure to start proxy : port taken/);
  const removed = r.server.removePod("u3");
  assert.deepEqual(await p.next(), { req: { kind: "del", uid: "u3" }, fds: 0 });
  await p.ack();
  await removed;
  assert.deepEqual(r.server.podUids(), ["u1", "u2"]);
  p.s.close();
  await r.close();
});

Deno.test("zds server: Add goes to the latest connection, Del to every connection", async () => {
  const r = await rig({ deadlineMs: 1000, keepaliveMs: 10_000, probeMs: 10 });
  const old = await Proxy.connect(r.kit, r.path);
  assert.deepEqual((await old.next())?.req, { kind: "snapshot_sent" });
  await old.ack();
  const fresh = await Proxy.connect(r.kit, r.path);
  assert.deepEqual((await fresh.next())?.req, { kind: "snapshot_sent" });
  await fresh.ack();
  await until(() => r.server.connections === 2);
  const added = r.server.addPod("u1", INFO, SELF);
  assert.deepEqual((await fresh.next())?.req.kind, "add");
  await fresh.ack();
  await added;
  const removed = r.server.removePod("u1");
  assert.deepEqual((await old.next())?.req, { kind: "del", uid: "u1" });
  assert.deepEqual((await fresh.next())?.req, { kind: "del", uid: "u1" });
  await old.ack("ignored");
  await fresh.ack();
  await removed;
  old.s.close();
  fresh.s.close();
  await r.close();
});

Deno.test("zds server: no hello within the deadline closes the connection", async () => {
  const r = await rig();
  const p = await Proxy.connect(r.kit, r.path, false);
  assert.equal(await p.next(), null);
  p.s.close();
  await r.close();
});

Deno.test("zds server: keepalive — quiet proxies stay, an unprompted packet is a protocol error, EOF drops", async () => {
  const r = await rig({ deadlineMs: 300, keepaliveMs: 30, probeMs: 10 });
  const p = await Proxy.connect(r.kit, r.path);
  await p.next();
  await p.ack();
  await until(() => r.server.connections === 1);
  await new Promise((res) => setTimeout(res, 150)); // several probes
  assert.equal(r.server.connections, 1, "a quiet proxy is alive");
  await p.ack(); // unprompted
  assert.equal(await p.next(), null, "closed by the server");
  await until(() => r.server.connections === 0);
  const q = await Proxy.connect(r.kit, r.path);
  await q.next();
  await q.ack();
  await until(() => r.server.connections === 1);
  q.s.close();
  await until(() => r.server.connections === 0, 3000, "EOF seen by the probe");
  p.s.close();
  await r.close();
});

Deno.test("zds server: a late ack is taken as the ack of the next request (acks carry no id)", async () => {
  const r = await rig({ deadlineMs: 100, keepaliveMs: 10_000, probeMs: 10 });
  const p = await Proxy.connect(r.kit, r.path);
  await p.next();
  await p.ack();
  await until(() => r.server.connections === 1);
  const first = assert.rejects(
    r.server.addPod("u1", INFO, SELF),
    (e) => e instanceof ZdsServerError && e.reason === "timeout",
  );
  await p.next();
  await first;
  await p.ack("late answer for u1");
  const second = assert.rejects(r.server.addPod("u2", INFO, SELF), /got ack error: late answer for u1/);
  await p.next();
  await second;
  assert.equal(r.server.connections, 1, "the connection is kept after a timed-out ack");
  p.s.close();
  await r.close();
});

Deno.test("zds server: a leftover socket file is replaced; close() closes the listener first", async () => {
  const r = await rig();
  const p = await Proxy.connect(r.kit, r.path);
  await p.next();
  await p.ack();
  await until(() => r.server.connections === 1);
  await r.server.close();
  assert.equal(await p.next(), null);
  await assert.rejects(
    SeqpacketSocket.connect(r.kit.libc, r.kit.readiness, r.path),
    (e) => e instanceof SyscallError && e.errno === E.ECONNREFUSED,
  );
  // A new server on the same path removes the old file.
  const again = await ZdsServer.listen({
    path: r.path,
    libc: r.kit.libc,
    readiness: r.kit.readiness,
    log: silentLogger(),
  });
  const q = await Proxy.connect(r.kit, r.path);
  assert.deepEqual((await q.next())?.req, { kind: "snapshot_sent" });
  q.s.close();
  p.s.close();
  await again.close();
  await Deno.remove(r.path.replace(/\/[^/]+$/, ""), { recursive: true });
  r.kit.close();
});

Deno.test("zds server: a pod removed while its Add waits in the queue is never sent with a stale fd", async () => {
  const r = await rig({ deadlineMs: 2000, keepaliveMs: 10_000, probeMs: 10 });
  await r.server.addPod("u1", INFO, SELF).catch(() => {});
  const p = await Proxy.connect(r.kit, r.path);
  assert.equal((await p.next())?.req.kind, "add"); // the snapshot's u1, not acked yet
  await until(() => r.server.connections === 1);
  const added = assert.rejects(
    r.server.addPod("u9", INFO, SELF),
    (e) => e instanceof ZdsServerError && e.reason === "closed",
  );
  const removed = r.server.removePod("u9");
  await p.ack();
  assert.deepEqual((await p.next())?.req, { kind: "snapshot_sent" });
  await p.ack();
  assert.deepEqual(await p.next(), { req: { kind: "del", uid: "u9" }, fds: 0 });
  await p.ack();
  await added;
  await removed;
  p.s.close();
  await r.close();
});
