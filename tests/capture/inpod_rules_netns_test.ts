/**
 * What istio-cni's in-pod rules do to packets (inpod-dns-facts.md §4.3), as root in namespaces, with
 * small listeners from zt's socket factory standing in for ztunnel (no zt running): the app's outbound TCP
 * lands on 127.0.0.1:15001 with SO_ORIGINAL_DST = the original; inbound non-15008 lands on podIP:15006;
 * 15008 and packets marked 0x539 are not captured; DNS (UDP and TCP 53) lands on 15053 and the app sees
 * the answer come from its resolver; ztunnel's spoofed-source connection to the app works only through
 * the table-100 ip rule; and a re-install with the pod's annotations turns DNS capture (TCP 53 is then
 * plain outbound) or inbound capture off.
 */
import assert from "node:assert/strict";
import type dgram from "node:dgram";
import type net from "node:net";
import { NetNamespace } from "../../lib/net/netns.ts";
import { localAddress, originalDst, peerAddress } from "../../lib/net/socket_info.ts";
import type { SocketFactory } from "../../lib/net/socket_factory.ts";
import type { TcpListener } from "../../lib/net/tcp_listener.ts";
import { formatSocketAddr, type SocketAddr } from "../../lib/state/ip.ts";
import { systemExec } from "../../lib/capture/command_runner.ts";
import { applyPodTask } from "../../lib/capture/inpod_apply.ts";
import type { InpodPod } from "../../lib/capture/inpod_pods.ts";
import { DEFAULT_INPOD_SETTINGS } from "../../lib/capture/inpod_rules.ts";
import { podOverrides } from "../../lib/capture/pod_overrides.ts";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { netKit } from "../net/net_fixture.ts";

const NETNS_SKIP = await netnsSkipReason(["ip", "iptables", "iptables-restore", "nsenter"]);
const NODE_IP = "10.253.5.1";
const POD_IP = "10.253.5.10";
const MARK = 0x539;

interface Seen {
  readonly local: string;
  readonly orig: string;
  readonly peer: string;
}

const fmt = (a: SocketAddr | undefined) => (a ? formatSocketAddr(a.ip, a.port) : "none");

/** A TCP listener that records each connection's addresses and echoes what it reads. */
class Recorder {
  readonly seen: Seen[] = [];
  readonly #sockets: net.Socket[] = [];
  readonly #waiters: Array<() => void> = [];

  constructor(readonly listener: TcpListener, f: SocketFactory) {
    listener.serve({
      onConnection: ({ socket, fd }) => {
        this.seen.push({
          local: fmt(localAddress(f.libc, fd)),
          orig: fmt(originalDst(f.libc, fd)),
          peer: fmt(peerAddress(f.libc, fd)),
        });
        this.#sockets.push(socket);
        socket.on("data", (d) => socket.write(d));
        socket.on("error", () => {});
        for (const w of this.#waiters.splice(0)) w();
      },
    });
  }

  /** The next connection's addresses (after `count` already seen). */
  async next(count: number, what: string): Promise<Seen> {
    const deadline = Date.now() + 3000;
    while (this.seen.length <= count) {
      if (Date.now() > deadline) throw new Error(`no connection on ${what}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.seen[count];
  }

  close(): void {
    this.listener.close();
    for (const s of this.#sockets) s.destroy();
  }
}

function recvOne(s: dgram.Socket): Promise<{ msg: string; from: string }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no datagram")), 3000);
    s.once("message", (m, r) => {
      clearTimeout(t);
      resolve({ msg: new TextDecoder().decode(m), from: `${r.address}:${r.port}` });
    });
  });
}

async function roundTrip(s: net.Socket, text: string): Promise<string> {
  const got = new Promise<string>((resolve) =>
    s.once("data", (d: Uint8Array) => resolve(new TextDecoder().decode(d)))
  );
  s.write(text);
  return await got;
}

Deno.test({
  name:
    "in-pod rules in a real pod: 15001, 15006, 15008, the 0x539 exemption, DNS to 15053, table 100, overrides",
  ignore: NETNS_SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const netns = new Netns(`ztinrules-${Deno.pid}`);
    await netns.removeStale();
    const kit = netKit();
    const home = NetNamespace.current(kit.libc);
    const closers: Array<() => void> = [];
    try {
      const noV6 = { "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1" };
      const nodeNs = await netns.add("node", noV6);
      const podNs = await netns.add("pod", noV6);
      await netns.podVeth(nodeNs, "v-pod", podNs);
      await netns.must(nodeNs, ["ip", "addr", "add", `${NODE_IP}/24`, "dev", "v-pod"]);
      await netns.must(podNs, ["ip", "addr", "add", `${POD_IP}/24`, "dev", "eth0"]);
      await netns.must(podNs, ["ip", "link", "set", "eth0", "up"]);
      await netns.must(podNs, ["ip", "route", "add", "default", "via", NODE_IP]);
      const pod: InpodPod = {
        uid: "u-sleep",
        name: "sleep",
        namespace: "ambient-demo",
        serviceAccount: "sleep",
        netns: `/var/run/netns/${podNs}`,
        overrides: podOverrides({}),
      };
      const settings = { ...DEFAULT_INPOD_SETTINGS, ipv6: false };
      const install = (annotations: Record<string, string>) =>
        applyPodTask(
          { pod: { ...pod, overrides: podOverrides(annotations) }, action: "install" },
          settings,
          systemExec(),
        );
      await install({});

      const podHandle = NetNamespace.open(kit.libc, pod.netns, home);
      const nodeHandle = NetNamespace.open(kit.libc, `/var/run/netns/${nodeNs}`, home);
      closers.push(() => podHandle.close(), () => nodeHandle.close());
      const zt = kit.factory({ netns: podHandle, mark: MARK, reusePort: true }); // "ztunnel" in the pod
      const app = kit.factory({ netns: podHandle }); // the pod's application, unmarked
      const node = kit.factory({ netns: nodeHandle }); // a peer outside the pod
      const listen = (f: SocketFactory, ip: string, port: number, transparent = false) => {
        const r = new Recorder(f.listenTcp({ ip, port }, transparent ? { transparent: "require" } : {}), f);
        closers.push(() => r.close());
        return r;
      };
      const outbound = listen(zt, "0.0.0.0", 15001, true);
      const inbound = listen(zt, "0.0.0.0", 15006, true);
      const hbone = listen(zt, "0.0.0.0", 15008, true);
      const dnsTcp = listen(zt, "127.0.0.1", 15053);
      const appListener = listen(app, "0.0.0.0", 8080);
      const remote = listen(node, NODE_IP, 9000);
      const remoteDnsTcp = listen(node, NODE_IP, 53);
      const dnsUdp = zt.bindUdp({ ip: "127.0.0.1", port: 15053 });
      dnsUdp.on("message", (_m, r) => dnsUdp.send(new TextEncoder().encode("from-15053"), r.port, r.address));
      const remoteDnsUdp = node.bindUdp({ ip: NODE_IP, port: 53 });
      remoteDnsUdp.on(
        "message",
        (_m, r) => remoteDnsUdp.send(new TextEncoder().encode("from-node"), r.port, r.address),
      );
      closers.push(() => dnsUdp.close(), () => remoteDnsUdp.close());
      const conns: net.Socket[] = [];
      closers.push(() => conns.forEach((c) => c.destroy()));
      const dial = async (f: SocketFactory, ip: string, port: number, opts = {}) => {
        const c = await f.connectTcp({ ip, port }, { timeoutMs: 3000, ...opts });
        c.on("error", () => {});
        conns.push(c);
        return c;
      };

      // The app's outbound TCP: REDIRECTed to 127.0.0.1:15001, the original destination kept.
      await dial(app, NODE_IP, 9000);
      const out = await outbound.next(0, "15001");
      assert.equal(out.local, "127.0.0.1:15001");
      assert.equal(out.orig, `${NODE_IP}:9000`);
      assert.match(out.peer, new RegExp(`^${POD_IP}:`));
      // ztunnel's own (marked) connection out of the pod is not captured: it reaches the peer from the pod IP.
      await dial(zt, NODE_IP, 9000);
      assert.match((await remote.next(0, "the node's 9000")).peer, new RegExp(`^${POD_IP}:`));

      // Inbound plaintext: REDIRECTed to podIP:15006, the original destination kept.
      await dial(node, POD_IP, 8080);
      const plain = await inbound.next(0, "15006");
      assert.equal(plain.local, `${POD_IP}:15006`);
      assert.equal(plain.orig, `${POD_IP}:8080`);
      assert.match(plain.peer, new RegExp(`^${NODE_IP}:`));
      // Inbound HBONE: straight to 15008, no NAT.
      await dial(node, POD_IP, 15008);
      const tunnel = await hbone.next(0, "15008");
      assert.equal(tunnel.local, `${POD_IP}:15008`);
      assert.equal(tunnel.orig, `${POD_IP}:15008`);

      // DNS: the app's UDP query lands on 15053, and the answer seems to come from its resolver.
      const appUdp = app.bindUdp({ ip: "0.0.0.0", port: 0 });
      closers.push(() => appUdp.close());
      let reply = recvOne(appUdp);
      appUdp.send(new TextEncoder().encode("q"), 53, NODE_IP);
      assert.deepEqual(await reply, { msg: "from-15053", from: `${NODE_IP}:53` });
      // ... and over TCP.
      await dial(app, NODE_IP, 53);
      const tcpDns = await dnsTcp.next(0, "TCP 15053");
      assert.equal(tcpDns.local, "127.0.0.1:15053");
      assert.equal(tcpDns.orig, `${NODE_IP}:53`);
      // ztunnel's own upstream query (marked) goes out as it is.
      const ztUdp = zt.bindUdp({ ip: "0.0.0.0", port: 0 });
      closers.push(() => ztUdp.close());
      reply = recvOne(ztUdp);
      ztUdp.send(new TextEncoder().encode("q"), 53, NODE_IP);
      assert.deepEqual(await reply, { msg: "from-node", from: `${NODE_IP}:53` });

      // ztunnel to the app with the client's address (spoofed, marked): the app's replies come back to
      // ztunnel's socket through connmark 0x111 and table 100; without the ip rule they leave by eth0.
      const spoofed = await dial(zt, POD_IP, 8080, { src: NODE_IP, spoof: true });
      assert.equal(await roundTrip(spoofed, "hello app"), "hello app");
      const fromZt = await appListener.next(0, "the app's 8080");
      assert.match(fromZt.peer, new RegExp(`^${NODE_IP}:`), "the app sees the client's address");
      assert.equal(fromZt.orig, `${POD_IP}:8080`, "not redirected to 15006 (marked, over lo)");
      await netns.must(podNs, [
        "ip",
        "rule",
        "del",
        "fwmark",
        "0x111/0xfff",
        "pref",
        "32764",
        "lookup",
        "100",
      ]);
      await assert.rejects(dial(zt, POD_IP, 8080, { src: NODE_IP, spoof: true, timeoutMs: 1500 }));
      await install({}); // idempotent: puts the rule back, nothing else changes
      const again = await dial(zt, POD_IP, 8080, { src: NODE_IP, spoof: true });
      assert.equal(await roundTrip(again, "again"), "again");

      // Nothing above was misrouted.
      assert.equal(outbound.seen.length, 1);
      assert.equal(inbound.seen.length, 1);
      assert.equal(remote.seen.length, 1);
      assert.equal(remoteDnsTcp.seen.length, 0);
      assert.equal(appListener.seen.length, 2);

      // Annotations, re-installed: DNS capture off → the app's queries reach the resolver itself;
      // inbound capture bypassed → plaintext reaches the app directly.
      await install({
        "ambient.istio.io/dns-capture": "false",
        "ambient.istio.io/bypass-inbound-capture": "true",
      });
      // (A new socket: the old one's flow keeps its conntrack NAT until it expires.)
      const appUdp2 = app.bindUdp({ ip: "0.0.0.0", port: 0 });
      closers.push(() => appUdp2.close());
      reply = recvOne(appUdp2);
      appUdp2.send(new TextEncoder().encode("q"), 53, NODE_IP);
      assert.deepEqual(await reply, { msg: "from-node", from: `${NODE_IP}:53` });
      // TCP 53 is then ordinary outbound TCP: 15001, not 15053.
      await dial(app, NODE_IP, 53);
      assert.equal((await outbound.next(1, "15001 for TCP 53")).orig, `${NODE_IP}:53`);
      assert.equal(dnsTcp.seen.length, 1);
      await dial(node, POD_IP, 8080);
      const direct = await appListener.next(2, "the app's 8080, uncaptured");
      assert.match(direct.peer, new RegExp(`^${NODE_IP}:`));
      assert.equal(inbound.seen.length, 1, "15006 got nothing more");
      assert.equal(remoteDnsTcp.seen.length, 0);
    } finally {
      for (const c of closers.reverse()) c();
      home.close();
      kit.close();
      await netns.destroy();
    }
  },
});
