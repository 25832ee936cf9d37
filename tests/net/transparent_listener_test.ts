/**
 * Transparent listeners from zt's socket factory, as root in namespaces with the rules `zt redirect`
 * installs: IP_TRANSPARENT is set (or refused with a typed error without CAP_NET_ADMIN), and under
 * TPROXY each accepted connection's own address is its original destination, at O(1) per connection.
 */
import assert from "node:assert/strict";
import { C, E, SyscallError } from "../../lib/net/libc.ts";
import { installCommands } from "../../lib/capture/redirect_rules.ts";
import { runCommands, systemExec } from "../../lib/cli/redirect.ts";
import { LineReader, Netns, netnsSkipReason } from "../fakes/netns.ts";
import { hostFactory } from "../fakes/socket_kit.ts";

const ROOT = Deno.uid() === 0;
const NETNS_SKIP = await netnsSkipReason();

Deno.test("transparent listener: IP_TRANSPARENT on IPv4 and IPv6 listeners; `require` without the capability throws", () => {
  const f = hostFactory();
  if (!ROOT) {
    assert.throws(
      () => f.listenTcp({ ip: "127.0.0.1", port: 0 }, { transparent: "require" }),
      (e) => e instanceof SyscallError && e.errno === E.EPERM,
    );
    const l = f.listenTcp({ ip: "127.0.0.1", port: 0 }, { transparent: "try" });
    assert.equal(l.transparent, false);
    l.close();
    return;
  }
  const l4 = f.listenTcp({ ip: "127.0.0.1", port: 0 }, { transparent: "require" });
  const l6 = f.listenTcp({ ip: "::", port: 0 }, { transparent: "require" });
  try {
    assert.equal(l4.transparent, true);
    assert.equal(f.libc.getInt(l4.fd, C.SOL_IP, C.IP_TRANSPARENT), 1);
    assert.equal(f.libc.getInt(l6.fd, C.SOL_IPV6, C.IPV6_TRANSPARENT), 1);
    const plain = f.listenTcp({ ip: "127.0.0.1", port: 0 });
    assert.equal(f.libc.getInt(plain.fd, C.SOL_IP, C.IP_TRANSPARENT), 0);
    plain.close();
  } finally {
    l4.close();
    l6.close();
  }
});

const PROBE = new URL("../fakes/tproxy_probe.ts", import.meta.url).pathname;

Deno.test({
  name:
    "transparent listener: TPROXY, 1,000 connections to 1,000 destinations, each one's address is its original destination",
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
      if (cli.stderr.trim()) console.error(cli.stderr);
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
