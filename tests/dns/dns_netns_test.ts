/**
 * A pod's DNS proxy in its own network namespace, as in-pod mode runs it (root only): sockets from the
 * pod's factory (its netns, mark 0x539), bound on 127.0.0.1 and ::1 inside the pod — ::1 skipped where the
 * pod's loopback has no IPv6 — and reached the way istio-cni sends a pod's DNS: nat REDIRECT of port 53 to
 * 15053. The upstream runs inside the pod's namespace, reached by the forwarder's marked sockets.
 */
import assert from "node:assert/strict";
import { DnsProxies } from "../../lib/dns/dns_proxies.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { Registry } from "../../lib/metrics/registry.ts";
import { NetNamespace } from "../../lib/net/netns.ts";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { netKit } from "../net/net_fixture.ts";
import { service, workload } from "../state/fixtures.ts";

const skip = await netnsSkipReason(["ip", "iptables", "dig", "ss"]);
if (skip) console.log(`dns_netns_test: skipped: ${skip}`);

const UPSTREAM = "10.63.0.53";

async function podNamespace(
  netns: Netns,
  short: string,
  sysctls: Record<string, string> = {},
): Promise<string> {
  const ns = await netns.add(short, sysctls);
  // a way out (eth0, default route), and istio-cni's DNS capture: port 53 → 15053 unless marked 0x539
  await netns.must(ns, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"]);
  await netns.must(ns, ["ip", "link", "set", "eth0-peer", "up"]);
  await netns.must(ns, ["ip", "addr", "add", "10.62.0.2/24", "dev", "eth0"]);
  await netns.must(ns, ["ip", "link", "set", "eth0", "up"]);
  await netns.must(ns, ["ip", "route", "add", "default", "via", "10.62.0.1"]);
  await netns.must(ns, ["ip", "addr", "add", `${UPSTREAM}/32`, "dev", "lo"]);
  const mark = ["-m", "mark", "!", "--mark", "0x539/0xfff"];
  await netns.must(ns, [
    "iptables",
    "-t",
    "nat",
    "-A",
    "OUTPUT",
    "!",
    "-o",
    "lo",
    "-p",
    "udp",
    "--dport",
    "53",
    ...mark,
    "-j",
    "REDIRECT",
    "--to-ports",
    "15053",
  ]);
  await netns.must(ns, [
    "iptables",
    "-t",
    "nat",
    "-A",
    "OUTPUT",
    "!",
    "-d",
    "127.0.0.1/32",
    "-p",
    "tcp",
    "--dport",
    "53",
    ...mark,
    "-j",
    "REDIRECT",
    "--to-ports",
    "15053",
  ]);
  return ns;
}

Deno.test({
  name: "dns in a pod's namespace: 127.0.0.1 and ::1 inside the pod, reached through REDIRECT of port 53",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const netns = new Netns(`ztdns-${Deno.pid}`);
    await netns.removeStale();
    const kit = netKit();
    const home = NetNamespace.current(kit.libc);
    const closers: (() => void)[] = [];
    try {
      const ns = await podNamespace(netns, "pod");
      const nsV4 = await podNamespace(netns, "v4", { "net.ipv6.conf.lo.disable_ipv6": "1" });
      const up = netns.spawn(ns, [
        Deno.execPath(),
        "run",
        "-A",
        new URL("../fakes/dns_upstream.ts", import.meta.url).pathname,
        UPSTREAM,
        "53",
        JSON.stringify({ "example.org": { A: ["93.184.63.1"] } }),
      ]);
      await up.stdout.getReader().read(); // "ready"

      const state = new ProxyState();
      const sleep = workload({ name: "sleep", namespace: "ambient-demo", workloadIps: ["10.62.0.2"] });
      const other = workload({ name: "other", namespace: "ambient-demo", workloadIps: ["10.62.0.3"] });
      state.upsertWorkload(sleep);
      state.upsertWorkload(other);
      state.upsertService(service({ name: "httpbin", namespace: "ambient-demo", vips: ["/10.96.63.1"] }));
      const dns = new DnsProxies({
        state,
        sockets: kit.factory(),
        registry: new Registry(),
        log: silentLogger(),
        clusterDomain: "cluster.local",
        ipv6Enabled: true,
        proxyAddr: { host: "localhost", port: 15053 },
        upstreams: [{ ip: UPSTREAM, port: 53 }],
        upstreamTimeoutMs: 1000,
      });
      const podFactory = (path: string) =>
        kit.factory({ netns: NetNamespace.open(kit.libc, path, home), mark: 0x539, reusePort: true });
      const a = dns.startPod(sleep.uid, {
        ip: "10.62.0.2",
        sockets: podFactory(`/var/run/netns/${ns}`),
        inOwnNamespace: true,
      });
      closers.push(() => a.close());
      assert.deepEqual(a.bound, [{ ip: "127.0.0.1", port: 15053 }, { ip: "::1", port: 15053 }]);
      const b = dns.startPod(other.uid, {
        ip: "10.62.0.3",
        sockets: podFactory(`/var/run/netns/${nsV4}`),
        inOwnNamespace: true,
      });
      closers.push(() => b.close());
      assert.deepEqual(b.bound, [{ ip: "127.0.0.1", port: 15053 }], "no ::1 where the pod's lo has no IPv6");

      const udp = await netns.must(ns, ["ss", "-lunH"]);
      assert.match(udp, /127\.0\.0\.1:15053/);
      assert.match(udp, /\[::1\]:15053/);
      const here = new TextDecoder().decode(
        (await new Deno.Command("ss", { args: ["-lunH"] }).output()).stdout,
      );
      assert.doesNotMatch(here, /:15053\b/, "nothing bound in zt's own namespace");

      const dig = (n: string, ...args: string[]) =>
        netns.must(n, ["dig", "+time=2", "+tries=1", "+short", ...args]);
      // the pod asks "its" resolver 10.96.0.10:53; REDIRECT brings it to zt on 127.0.0.1:15053
      assert.equal(
        (await dig(ns, "@10.96.0.10", "httpbin.ambient-demo.svc.cluster.local")).trim(),
        "10.96.63.1",
      );
      assert.equal((await dig(ns, "@10.96.0.10", "+tcp", "httpbin")).trim(), "10.96.63.1");
      assert.equal((await dig(ns, "@::1", "-p", "15053", "httpbin")).trim(), "10.96.63.1");
      assert.equal(
        (await dig(ns, "@10.96.0.10", "example.org")).trim(),
        "93.184.63.1",
        "forwarded from inside the pod",
      );
      assert.equal((await dig(nsV4, "@10.96.0.10", "httpbin")).trim(), "10.96.63.1");
    } finally {
      for (const c of closers) c();
      kit.close();
      await netns.destroy();
    }
  },
});
