import assert from "node:assert/strict";
import { SeqpacketListener, SeqpacketSocket } from "../../lib/net/seqpacket.ts";
import { C } from "../../lib/net/libc.ts";
import { netKit } from "./net_fixture.ts";

Deno.test("seqpacket: packets keep their boundaries; an fd travels with SCM_RIGHTS; close is EOF", async () => {
  const kit = netKit();
  const [a, b] = SeqpacketSocket.pair(kit.libc, kit.readiness);
  await a.send(new Uint8Array([8, 1]));
  await a.send(new Uint8Array([0x0a, 0x00]));
  assert.deepEqual([...(await b.recv())!.data], [8, 1]);
  assert.deepEqual([...(await b.recv())!.data], [0x0a, 0x00]);
  // An fd of ours (an eventfd) arrives as a new fd in the receiver, pointing at the same object.
  const efd = kit.libc.sym.eventfd(0, C.EFD_CLOEXEC);
  await a.send(new Uint8Array([1, 2, 3]), [efd]);
  const p = (await b.recv())!;
  assert.deepEqual([...p.data], [1, 2, 3]);
  assert.equal(p.fds.length, 1);
  assert.notEqual(p.fds[0], efd);
  assert.equal(p.truncated, false);
  kit.libc.closeFd(p.fds[0]);
  kit.libc.closeFd(efd);
  // A packet larger than the receive buffer is reported truncated.
  await a.send(new Uint8Array(2000));
  assert.equal((await b.recv(1024))!.truncated, true);
  a.close();
  assert.equal(await b.recv(), null);
  b.close();
  kit.close();
});

Deno.test("seqpacket: a client connects to a listener by path; recv waits for data", async () => {
  const kit = netKit();
  const dir = await Deno.makeTempDir({ prefix: "zt-seqpacket-" });
  const path = `${dir}/zds.sock`;
  const l = SeqpacketListener.listen(kit.libc, kit.readiness, path);
  const accepted = l.accept();
  const c = await SeqpacketSocket.connect(kit.libc, kit.readiness, path);
  const s = (await accepted)!;
  const later = s.recv();
  setTimeout(() => c.send(new Uint8Array([42])), 30);
  assert.deepEqual([...(await later)!.data], [42]);
  c.close();
  s.close();
  l.close();
  assert.equal(await l.accept(), null);
  await Deno.remove(dir, { recursive: true });
  kit.close();
});

Deno.test("readiness: a read and a write may be awaited on one fd at once; each resolves on its own", async () => {
  const kit = netKit();
  const efd = kit.libc.sym.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
  const read = kit.readiness.wait(efd, "read", 2000);
  // An eventfd is writable at once; the read wait stays pending until something is written.
  assert.equal(await kit.readiness.wait(efd, "write", 1000), "ready");
  assert.equal(kit.readiness.watched, 1);
  kit.libc.sym.write(efd, new Uint8Array(new BigUint64Array([1n]).buffer), 8n);
  assert.equal(await read, "ready");
  const again = kit.readiness.wait(efd, "read", 5000);
  kit.readiness.cancel(efd);
  assert.equal(await again, "cancelled");
  kit.libc.closeFd(efd);
  kit.close();
});
