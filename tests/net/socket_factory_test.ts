import assert from "node:assert/strict";
import { ConnectError } from "../../lib/net/socket_factory.ts";
import { C, E, SyscallError } from "../../lib/net/libc.ts";
import { netKit, readAll } from "./net_fixture.ts";

const IP = "127.41.0.1";

Deno.test("factory: a listener it made accepts, a socket it connected carries bytes both ways with half-close", async () => {
  const kit = netKit();
  const f = kit.factory();
  const l = f.listenTcp({ ip: IP, port: 0 });
  assert.equal(l.address.ip, IP);
  assert.ok(l.address.port > 0);
  const served = new Promise<Uint8Array>((resolve, reject) => {
    l.serve({
      onConnection: ({ socket }) => {
        readAll(socket).then((got) => {
          socket.end(got.slice().reverse());
          resolve(got);
        }, reject);
      },
    });
  });
  const c = await f.connectTcp(l.address);
  const payload = new Uint8Array(300_000).map((_, i) => i % 251);
  const back = readAll(c);
  c.end(payload);
  assert.deepEqual(await served, payload);
  assert.deepEqual(await back, payload.slice().reverse());
  c.destroy();
  l.close();
  kit.close();
});

Deno.test("factory: a refused connect is a ConnectError(refused); a taken port is EADDRINUSE", async () => {
  const kit = netKit();
  const f = kit.factory();
  const l = f.listenTcp({ ip: IP, port: 0 });
  const port = l.address.port;
  assert.throws(
    () => f.listenTcp({ ip: IP, port }),
    (e) => e instanceof SyscallError && e.errno === E.EADDRINUSE && /Address already in use/.test(e.message),
  );
  l.close();
  const err = await f.connectTcp({ ip: IP, port }).then(() => undefined, (e) => e);
  assert.ok(err instanceof ConnectError, String(err));
  assert.equal(err.failure, "refused");
  kit.close();
});

Deno.test("factory: SO_REUSEPORT listeners share a port", () => {
  const kit = netKit();
  const reuse = kit.factory({ reusePort: true });
  const a = reuse.listenTcp({ ip: IP, port: 0 });
  const b = reuse.listenTcp({ ip: IP, port: a.address.port });
  assert.equal(b.address.port, a.address.port);
  a.close();
  b.close();
  kit.close();
});

Deno.test("factory: UDP sockets it binds send and receive (node:dgram adoption)", async () => {
  const kit = netKit();
  const f = kit.factory();
  const a = f.bindUdp({ ip: IP, port: 0 });
  const b = f.bindUdp({ ip: IP, port: 0 });
  const got = new Promise<string>((resolve) =>
    b.on("message", (m: Uint8Array) => resolve(new TextDecoder().decode(m)))
  );
  const bport = b.address().port;
  a.send(new TextEncoder().encode("ping"), bport, IP);
  assert.equal(await got, "ping");
  a.close();
  b.close();
  kit.close();
});

Deno.test("factory: connections it makes and accepts carry TCP_NODELAY and keepalive as configured", async () => {
  const kit = netKit();
  const keepalive = { enabled: true, timeMs: 60_000, intervalMs: 20_000, retries: 4, userTimeout: true };
  const f = kit.factory({ keepalive });
  const l = f.listenTcp({ ip: IP, port: 0 });
  const accepted = new Promise<number>((resolve) => {
    l.serve({
      keepalive,
      onConnection: ({ socket, fd }) => {
        resolve(fd);
        socket.on("error", () => {});
      },
    });
  });
  const c = await f.connectTcp(l.address);
  const fd = await accepted;
  const opt = (level: number, name: number) => kit.libc.getInt(fd, level, name);
  assert.equal(opt(C.SOL_TCP, C.TCP_NODELAY), 1);
  assert.equal(opt(C.SOL_SOCKET, C.SO_KEEPALIVE), 1);
  assert.equal(opt(C.SOL_TCP, C.TCP_KEEPIDLE), 60);
  assert.equal(opt(C.SOL_TCP, C.TCP_KEEPINTVL), 20);
  assert.equal(opt(C.SOL_TCP, C.TCP_KEEPCNT), 4);
  assert.equal(opt(C.SOL_TCP, C.TCP_USER_TIMEOUT), 60_000 + 4 * 20_000);
  c.destroy();
  l.close();
  kit.close();
});
