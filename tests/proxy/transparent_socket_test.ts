/**
 * The FFI module: finding a listener's fd by a getsockname scan (never an accepted connection's),
 * setting IP_TRANSPARENT / IPV6_TRANSPARENT, typed errors; and, as root in namespaces, the measured
 * per-connection cost of the original destination under TPROXY with the rules `zt redirect` installs.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { TransparentSockets } from "../../lib/proxy/transparent_socket.ts";
import { ZtError } from "../../lib/error.ts";
import { installCommands } from "../../lib/capture/redirect_rules.ts";
import { runCommands, systemExec } from "../../lib/cli/redirect.ts";
import { LineReader, Netns, netnsSkipReason } from "../fakes/netns.ts";

const ROOT = Deno.uid() === 0;
const NETNS_SKIP = await netnsSkipReason();

Deno.test("transparent socket: the listener's fd, not an accepted connection's with the same address", async () => {
  const ts = TransparentSockets.open();
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const accepted = await l.accept();
  try {
    const fd = ts.findListenerFd({ hostname: "127.0.0.1", port });
    assert.equal(ts.isTransparent(fd), false);
    if (ROOT) {
      ts.setTransparent(fd);
      assert.equal(ts.isTransparent(fd), true);
      // Accepted sockets existing before stay as they were; only the listener was changed.
      assert.equal(ts.findListenerFd({ hostname: "127.0.0.1", port }), fd);
    } else {
      assert.throws(() => ts.setTransparent(fd), (e) => e instanceof ZtError && e.kind === "permission");
    }
  } finally {
    client.close();
    accepted.close();
    l.close();
    ts.close();
  }
});

Deno.test({
  name: "transparent socket: IPv6 wildcard (Deno.listen) and a node:net server (as HBONE uses)",
  ignore: !ROOT,
  fn: async () => {
    const ts = TransparentSockets.open();
    const l6 = Deno.listen({ hostname: "::", port: 0 });
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const fd6 = ts.makeListenerTransparent({ hostname: "::", port: (l6.addr as Deno.NetAddr).port });
      assert.equal(ts.isTransparent(fd6), true);
      const port = (server.address() as net.AddressInfo).port;
      const fd = ts.makeListenerTransparent({ hostname: "127.0.0.1", port });
      assert.equal(ts.isTransparent(fd), true);
      assert.notEqual(fd, fd6);
    } finally {
      l6.close();
      await new Promise((r) => server.close(r));
      ts.close();
    }
  },
});

Deno.test("transparent socket: no listener there is a typed error", () => {
  const ts = TransparentSockets.open();
  try {
    assert.throws(
      () => ts.findListenerFd({ hostname: "127.0.0.1", port: 1 }),
      (e) => e instanceof ZtError && e.kind === "capture" && /127\.0\.0\.1:1/.test(e.message),
    );
    assert.throws(
      () => TransparentSockets.open("/nonexistent/libc.so.6"),
      (e) => e instanceof ZtError && e.kind === "capture",
    );
  } finally {
    ts.close();
  }
});

const PROBE = new URL("../fakes/tproxy_probe.ts", import.meta.url).pathname;

Deno.test({
  name:
    "transparent socket: TPROXY, 1,000 connections to 1,000 destinations, localAddr is each original destination",
  ignore: NETNS_SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const netns = new Netns(`ztprobe-${Deno.pid}`);
    await netns.removeStale();
    try {
      const node = await netns.add("node", { "net.ipv6.conf.all.disable_ipv6": "1" });
      const pod = await netns.add("pod", { "net.ipv6.conf.all.disable_ipv6": "1" });
      await netns.podVeth(node, "v-client", pod);
      await netns.must(node, ["ip", "addr", "add", "10.251.0.1/32", "dev", "v-client"]);
      await netns.must(node, ["ip", "route", "add", "10.251.0.2/32", "dev", "v-client"]);
      await netns.must(node, ["ip", "route", "add", "unreachable", "10.96.250.0/24"]);
      await netns.must(pod, ["ip", "addr", "add", "10.251.0.2/32", "dev", "eth0"]);
      await netns.must(pod, ["ip", "link", "set", "eth0", "up"]);
      await netns.must(pod, ["ip", "route", "add", "10.251.0.1", "dev", "eth0"]);
      await netns.must(pod, ["ip", "route", "add", "default", "via", "10.251.0.1"]);
      const pods = [{ namespace: "bench", name: "client", ip: "10.251.0.2", iface: "v-client" }];
      await runCommands(installCommands(pods), systemExec(node));

      const n = 1000;
      const srv = netns.spawn(node, [Deno.execPath(), "run", "-A", PROBE, "server", "15001", String(n)]);
      const out = new LineReader(srv.stdout);
      await out.waitFor((l) => l === "ready", 20_000).catch(async (e) => {
        throw new Error(`probe server: ${e.message}\n${await new Response(srv.stderr).text()}`);
      });
      const cli = await netns.run(pod, [Deno.execPath(), "run", "-A", PROBE, "client", String(n), "20000"]);
      assert.equal(cli.code, 0, cli.stderr);
      const c = JSON.parse(cli.stdout);
      assert.equal(c.wrong, 0, "some connection's localAddr was not its original destination");
      const s = JSON.parse(
        await out.waitFor((l) => l.startsWith("{"), 20_000).catch(async (e) => {
          throw new Error(`probe server: ${e.message}\n${await new Response(srv.stderr).text()}`);
        }),
      );
      console.log(`TPROXY original destination: ${JSON.stringify(s)}; client: ${JSON.stringify(c)}`);
      assert.equal(s.connections, n);
      assert.ok(s.localAddrReadUs.mean < 50, `reading localAddr took ${s.localAddrReadUs.mean} µs`);
    } finally {
      await netns.destroy();
    }
  },
});
