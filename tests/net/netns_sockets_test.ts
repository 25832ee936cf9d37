/**
 * Sockets made inside another network namespace, as in-pod mode makes them (root only): listeners and
 * connections live in the pod's namespace, carry the mark, see REDIRECT's original destination, and
 * may connect from a spoofed client address.
 */
import assert from "node:assert/strict";
import { NetNamespace } from "../../lib/net/netns.ts";
import { C } from "../../lib/net/libc.ts";
import { dupFd, localAddress, originalDst, resetSocket } from "../../lib/net/socket_info.ts";
import { ConnectError } from "../../lib/net/socket_factory.ts";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { netKit, readAll } from "./net_fixture.ts";

const skip = await netnsSkipReason();
if (skip) console.log(`netns_sockets_test: skipped: ${skip}`);

Deno.test({
  name: "netns sockets: inside the pod's namespace, marked, REDIRECT's original destination, spoofed source",
  ignore: skip !== undefined,
  async fn() {
    const netns = new Netns(`ztnet-${Deno.pid}`);
    await netns.removeStale();
    const kit = netKit();
    const home = NetNamespace.current(kit.libc);
    try {
      const ns = await netns.add("pod");
      await netns.must(ns, ["ip", "addr", "add", "10.61.0.5/24", "dev", "lo"]);
      // A pod's way out (its eth0 and default route): replies to foreign addresses need a route first.
      await netns.must(ns, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"]);
      await netns.must(ns, ["ip", "link", "set", "eth0-peer", "up"]);
      await netns.must(ns, ["ip", "addr", "add", "10.62.0.2/24", "dev", "eth0"]);
      await netns.must(ns, ["ip", "link", "set", "eth0", "up"]);
      await netns.must(ns, ["ip", "route", "add", "default", "via", "10.62.0.1"]);
      const pod = NetNamespace.open(kit.libc, `/var/run/netns/${ns}`, home);
      assert.ok(!pod.sameAs(home));
      const f = kit.factory({ netns: pod, mark: 0x539, reusePort: true });

      // A listener made for the pod exists only in the pod's namespace, with the mark on it.
      const l = f.listenTcp({ ip: "0.0.0.0", port: 15001 });
      assert.equal(kit.libc.getInt(l.fd, C.SOL_SOCKET, C.SO_MARK), 0x539);
      const inPod = await netns.must(ns, ["ss", "-ltnH"]);
      assert.match(inPod, /0\.0\.0\.0:15001/);
      const here = new TextDecoder().decode(
        (await new Deno.Command("ss", { args: ["-ltnH"] }).output()).stdout,
      );
      assert.doesNotMatch(here, /:15001\b/);

      // nat REDIRECT (as istio-cni's rules do) to 15001: the accepted socket's original destination.
      await netns.must(ns, [
        "iptables",
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "-d",
        "10.61.0.9",
        "-m",
        "mark",
        "!",
        "--mark",
        "0x539/0xfff",
        "-j",
        "REDIRECT",
        "--to-ports",
        "15001",
      ]);
      const accepted = new Promise<{ dst: unknown; peer: string; bytes: Uint8Array }>((resolve, reject) => {
        l.serve({
          onConnection: ({ socket, fd }) => {
            const dst = originalDst(kit.libc, fd);
            const dup = dupFd(socket);
            assert.notEqual(dup, fd);
            assert.deepEqual(localAddress(kit.libc, dup), localAddress(kit.libc, fd));
            kit.libc.closeFd(dup);
            readAll(socket).then((bytes) => {
              resolve({ dst, peer: socket.remoteAddress ?? "", bytes });
              socket.end();
            }, reject);
          },
        });
      });
      // An unmarked connection from inside the pod is captured...
      const unmarked = kit.factory({ netns: pod });
      const c = await unmarked.connectTcp({ ip: "10.61.0.9", port: 8080 });
      c.end(new Uint8Array([1, 2, 3]));
      const got = await accepted;
      assert.deepEqual(got.dst, { ip: "10.61.0.9", port: 8080 });
      assert.deepEqual([...got.bytes], [1, 2, 3]);
      c.destroy();

      // ...a marked one passes the rule (and, with nothing at 10.61.0.9, times out or is refused).
      const marked = await f.connectTcp({ ip: "10.61.0.9", port: 8080 }, { timeoutMs: 300 }).then(
        () => "connected",
        (e) => (e instanceof ConnectError ? e.failure : String(e)),
      );
      assert.notEqual(marked, "connected");

      // A spoofed source: the app (in the pod) sees the client's address, not the pod's.
      const app = kit.factory({ netns: pod }).listenTcp({ ip: "10.61.0.5", port: 8081 });
      const seen = new Promise<string>((resolve) => {
        app.serve({
          onConnection: ({ socket }) => {
            resolve(socket.remoteAddress ?? "");
            socket.destroy();
          },
        });
      });
      // istio-cni's return path for spoofed connections: marked SYNs set connmark 0x111, the app's
      // replies get the mark back and are delivered locally (table 100) to zt's transparent socket.
      await netns.must(ns, [
        "iptables",
        "-t",
        "mangle",
        "-A",
        "PREROUTING",
        "-m",
        "mark",
        "--mark",
        "0x539/0xfff",
        "-j",
        "CONNMARK",
        "--set-xmark",
        "0x111/0xfff",
      ]);
      await netns.must(ns, [
        "iptables",
        "-t",
        "mangle",
        "-A",
        "OUTPUT",
        "-m",
        "connmark",
        "--mark",
        "0x111/0xfff",
        "-j",
        "CONNMARK",
        "--restore-mark",
        "--nfmask",
        "0xffffffff",
        "--ctmask",
        "0xffffffff",
      ]);
      await netns.must(ns, ["ip", "rule", "add", "fwmark", "0x111/0xfff", "lookup", "100"]);
      await netns.must(ns, ["ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100"]);
      const spoofed = await f.connectTcp({ ip: "10.61.0.5", port: 8081 }, { src: "10.99.7.7", spoof: true });
      assert.equal(await seen, "10.99.7.7");
      resetSocket(spoofed);
      app.close();
      l.close();
      pod.close();
    } finally {
      home.close();
      kit.close();
      await netns.destroy();
    }
  },
});
