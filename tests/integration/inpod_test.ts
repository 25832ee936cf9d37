/**
 * In-pod mode end to end, as root, the way Istio ≥ 1.21 runs ambient: two node namespaces, each with a
 * zt (INPOD_ENABLED) and an istio-cni stand-in that is not zt's code (tests/peers/zds_server.py, from the
 * ZDS facts); pods are namespaces behind veths with istio-cni's in-pod rules installed inside them
 * (tests/fakes/istio_cni_pod_rules.ts). istio-cni hands each pod's netns fd over ZDS, zt opens the pod's
 * listeners inside it, and an unmodified `curl` in pod sleep reaches httpbin's VIP: captured in sleep's
 * netns, tunnelled from sleep's netns to httpbin's netns over HBONE. Proven by the destination's access
 * log (sleep's SPIFFE identity and pod IP), the app's view of the client address, iptables counters on the
 * node link (no plaintext), the guide's policy sequence, `ss` in the pods before and after a Del, and an
 * istio-cni restart that re-sends the snapshot while a live connection keeps flowing.
 */
import assert from "node:assert/strict";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { inboundLogs, NetnsZtNode } from "../fakes/netns_zt_node.ts";
import { writeMeshFiles } from "../fakes/zt_node.ts";
import { Topology } from "../fakes/ambient_topology.ts";
import { type MeshOptions, meshYaml, spiffeId, VIP } from "../fakes/ambient_mesh.ts";
import { installIstioCniRules } from "../fakes/istio_cni_pod_rules.ts";
import { ZdsPeer, type ZdsPod } from "../fakes/zds_peer.ts";
import { hasCommand } from "../fakes/netns.ts";

const SKIP = (await netnsSkipReason()) ?? (hasCommand("python3") ? undefined : "python3 is missing");
if (SKIP) console.log(`inpod_test: skipped: ${SKIP}`);

/** `ip netns exec` mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf: a pod's DNS settings. */
async function podResolvConf(ns: string, namespace: string): Promise<void> {
  await Deno.mkdir(`/etc/netns/${ns}`, { recursive: true });
  await Deno.writeTextFile(
    `/etc/netns/${ns}/resolv.conf`,
    `nameserver 10.96.0.10\nsearch ${namespace}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
  );
}

const POD_APP = new URL("../fakes/pod_app.ts", import.meta.url).pathname;
const AMBIENT = ["sleep", "notsleep", "httpbin-1", "httpbin-2"];

Deno.test({
  name: "in-pod: ZDS from an independent istio-cni, sockets in the pods' namespaces, the guide's traffic",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const started = performance.now();
    const netns = new Netns(`ztinpod-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-inpod-" });
    const topo = new Topology(netns);
    const zts: NetnsZtNode[] = [];
    const peers: ZdsPeer[] = [];
    try {
      await topo.build();
      const { caDir, configPath } = await writeMeshFiles(dir, meshYaml());
      const podNs = (short: string) => netns.name(short);
      for (const short of AMBIENT) {
        await installIstioCniRules(netns, podNs(short));
        await podResolvConf(podNs(short), "ambient-demo");
      }
      const zdsPods = (node: 0 | 1): ZdsPod[] =>
        topo.pods.filter((p) => p.node === node && AMBIENT.includes(p.short)).map((p) => ({
          uid: `uid-${p.short}`,
          name: p.name,
          namespace: p.namespace,
          serviceAccount: p.sa,
          netns: `/var/run/netns/${podNs(p.short)}`,
        }));
      const sockets = [`${dir}/node-a.sock`, `${dir}/node-b.sock`];
      for (const n of [0, 1] as const) peers.push(new ZdsPeer(sockets[n], zdsPods(n)));
      await Promise.all(peers.map((p) => p.waitFor((e) => e.event === "listening")));

      const writeMesh = async (o: MeshOptions) => {
        const marks = zts.map((z) => z.logs.length);
        await Deno.writeTextFile(`${configPath}.tmp`, meshYaml(o));
        await Deno.rename(`${configPath}.tmp`, configPath);
        await Promise.all(
          zts.map((z, i) => z.waitForLog((l) => l.message === "config applied", 10_000, marks[i])),
        );
      };
      const get = (pod: string, url: string) => topo.httpGet(pod, url);
      const served = (r: { code: number; body: string }) =>
        r.code === 0 && r.body.includes("<title>httpbin.org</title>");
      const listening = async (short: string) =>
        (await netns.must(podNs(short), ["ss", "-ltnH"])).split("\n").map((l) => l.split(/\s+/)[3])
          .filter(Boolean);

      for (const [n, node] of topo.nodes.entries()) {
        zts.push(
          new NetnsZtNode({
            netns,
            ns: node.ns,
            name: node.name,
            ip: node.ip,
            caDir,
            configPath,
            env: { INPOD_ENABLED: "true", INPOD_UDS: sockets[n], UNSTABLE_ENABLE_SOCKS5: "false" },
          }),
        );
      }
      await Promise.all(zts.map((z) => z.ready()));
      const [za, zb] = zts;

      await t.step(
        "istio-cni's snapshot is acked pod by pod; each pod's listeners are in its netns",
        async () => {
          for (const [n, peer] of peers.entries()) {
            for (const p of zdsPods(n as 0 | 1)) {
              const ack = await peer.waitFor((e) => e.event === "ack" && e.uid === p.uid);
              assert.equal(ack.error, "", `${p.uid}: ${JSON.stringify(ack)}`);
            }
            await peer.waitFor((e) => e.event === "ack" && e.for === "snapshot_sent");
          }
          for (const short of AMBIENT) {
            const ports = await listening(short);
            for (const port of ["15001", "15006", "15008"]) {
              assert.ok(ports.some((a) => a.endsWith(`:${port}`)), `${short} listens on ${port}: ${ports}`);
            }
          }
          // Nothing of the pods' in the nodes' own namespaces, and nothing in the uncaptured pods.
          for (const node of topo.nodes) {
            const own = await netns.must(node.ns, ["ss", "-ltnH"]);
            assert.doesNotMatch(own, /:1500[168]\b/);
          }
          assert.deepEqual((await listening("legacy")).filter((a) => /:150\d\d$/.test(a)), []);
        },
      );

      await t.step(
        "curl httpbin's VIP from pod sleep: captured in sleep, tunnelled to httpbin's netns",
        async () => {
          await topo.zeroCounters();
          const seen = new Set<string>();
          for (let i = 0; i < 24 && seen.size < 2; i++) {
            const r = await get("sleep", `http://${VIP}:8000/get`);
            assert.ok(served(r), `request ${i}: ${r.code} ${r.body}`);
            seen.add(/served by (\S+)/.exec(r.body)![1]);
            // The app sees the client pod's own address: the HBONE tunnel starts in sleep's netns and the
            // destination connects to the app from the client's address (IP_TRANSPARENT in the pod).
            assert.match(r.body, new RegExp(`client ${topo.pod("sleep").ip.replaceAll(".", "\\.")}\\n`));
          }
          assert.deepEqual([...seen].sort(), ["httpbin-1", "httpbin-2"]);
          const rec = await zb.waitForLog((l) =>
            l.message === "connection complete" && l.direction === "inbound" &&
            l["src.identity"] === spiffeId("ambient-demo", "sleep")
          );
          assert.match(
            String(rec["src.addr"]),
            new RegExp(`^${topo.pod("sleep").ip.replaceAll(".", "\\.")}:`),
          );
          assert.equal(rec["dst.addr"], `${topo.pod("httpbin-2").ip}:15008`);
          assert.equal(rec["dst.hbone_addr"], `${topo.pod("httpbin-2").ip}:80`);
          const out = await za.waitForLog((l) =>
            l.message === "connection complete" && l.direction === "outbound"
          );
          assert.equal(out["src.workload"], "sleep");
          const c = await topo.counters();
          assert.equal(c.plainToApp, 0, "plaintext to the app port crossed the node link");
          assert.equal(c.plainFromApp, 0, "plaintext from the app port crossed the node link");
          assert.ok(c.hbone > 0, "no HBONE packets crossed the node link");
        },
      );

      await t.step("the pod's DNS goes to zt in the pod: getent and curl by service name", async () => {
        // A Kubernetes pod's resolv.conf (kube-dns's ClusterIP, the namespace's search list): port 53 to
        // it is REDIRECTed by istio-cni's rule to zt's DNS proxy on 127.0.0.1:15053 inside the pod.
        const hosts = await netns.must(podNs("sleep"), ["getent", "hosts", "httpbin"]);
        assert.match(hosts, new RegExp(`^${VIP.replaceAll(".", "\\.")}\\s+httpbin`, "m"));
        const r = await get("sleep", "http://httpbin:8000/get");
        assert.ok(served(r), `${r.code} ${r.body}`);
        const udp = (await netns.must(podNs("sleep"), ["ss", "-lunH"])).split("\n").map((l) =>
          l.split(/\s+/)[3]
        );
        assert.ok(udp.includes("127.0.0.1:15053"), `sleep's UDP listeners: ${udp}`);
      });

      await t.step(
        "a captured pod reaches a non-mesh server as plain TCP (passthrough, no loop)",
        async () => {
          const web = topo.pod("web");
          const r = await get("sleep", `http://${web.ip}:8080/get`);
          assert.ok(r.code === 0 && r.body.includes("served by web"), `${r.code} ${r.body}`);
          const rec = await za.waitForLog((l) =>
            l.message === "connection complete" && l.direction === "outbound" &&
            l["dst.addr"] === `${web.ip}:8080`
          );
          assert.equal(rec["src.workload"], "sleep");
        },
      );

      await t.step("a non-mesh client reaches an ambient pod in plaintext (15006 in the pod)", async () => {
        const mark = zb.logs.length;
        const r = await get("legacy", `http://${topo.pod("httpbin-2").ip}/get`);
        assert.ok(served(r) && r.body.includes("served by httpbin-2"), `${r.code} ${r.body}`);
        const rec = await zb.waitForLog(
          (l) =>
            l.message === "connection complete" && l.direction === "inbound" &&
            String(l["src.addr"]).startsWith(`${topo.pod("legacy").ip}:`),
          5000,
          mark,
        );
        assert.equal(rec["src.identity"], undefined);
        assert.equal(rec["dst.addr"], `${topo.pod("httpbin-2").ip}:80`);
      });

      await t.step(
        "the guide's policies: ALLOW sleep only; L7 refuses both; deleted → both pass",
        async () => {
          await writeMesh({ policy: "allow-sleep" });
          for (let i = 0; i < 3; i++) assert.ok(served(await get("sleep", `http://${VIP}:8000/get`)));
          const mark = zts.map((z) => z.logs.length);
          for (let i = 0; i < 3; i++) assert.ok(!served(await get("notsleep", `http://${VIP}:8000/get`)));
          const denied = await inboundLogs(
            zts,
            mark,
            (l) => l["src.identity"] === spiffeId("ambient-demo", "notsleep"),
            3,
          );
          assert.ok(
            denied.length >= 3 && denied.every((l) => String(l.error).includes("policy rejection")),
          );
          await writeMesh({ policy: "allow-sleep-get" });
          for (const pod of ["sleep", "notsleep"]) {
            assert.ok(!served(await get(pod, `http://${VIP}:8000/get`)), pod);
          }
          await writeMesh({});
          for (const pod of ["sleep", "notsleep"]) {
            assert.ok(served(await get(pod, `http://${VIP}:8000/get`)), pod);
          }
        },
      );

      await t.step(
        "istio-cni restarts: the snapshot is re-sent, a live connection keeps flowing",
        async () => {
          // One long-lived connection from sleep to httpbin-2 through the tunnel: HTTP keep-alive requests.
          const live = netns.spawn(podNs("sleep"), [
            Deno.execPath(),
            "run",
            "-A",
            POD_APP,
            "keepalive",
            `http://${topo.pod("httpbin-2").ip}/get`,
            "30",
            "100",
          ]);
          const peerA = peers[0];
          await new Promise((r) => setTimeout(r, 300));
          await peerA.kill();
          peers[0] = new ZdsPeer(sockets[0], zdsPods(0));
          await peers[0].waitFor((e) => e.event === "ack" && e.for === "snapshot_sent", 20_000);
          for (const p of zdsPods(0)) {
            const ack = await peers[0].waitFor((e) => e.event === "ack" && e.uid === p.uid);
            assert.equal(ack.error, "");
          }
          const res = await live.output();
          const out = new TextDecoder().decode(res.stdout);
          const err = new TextDecoder().decode(res.stderr);
          assert.equal(res.code, 0, `the connection broke across the restart: ${err}`);
          assert.equal(out.split("\n").filter((l) => l.startsWith("ok ")).length, 30, out);
          assert.ok(served(await get("sleep", `http://${VIP}:8000/get`)));
        },
      );

      await t.step("Del closes that pod's listeners at once; zt serves it no more", async () => {
        await peers[0].command({ op: "del", uid: "uid-notsleep" });
        await peers[0].waitFor((e) => e.event === "ack" && e.uid === "uid-notsleep" && e.for === "del");
        const deadline = Date.now() + 5000;
        let ports = await listening("notsleep");
        while (ports.some((a) => /:1500[168]$/.test(a)) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          ports = await listening("notsleep");
        }
        assert.deepEqual(ports.filter((a) => /:1500[168]$/.test(a)), [], "listeners left after Del");
        assert.ok((await listening("sleep")).some((a) => a.endsWith(":15001")), "other pods keep theirs");
        // Its rules are still in place (istio-cni removes them), so its captured traffic now finds no zt.
        assert.ok(!served(await get("notsleep", `http://${VIP}:8000/get`)));
        assert.ok(served(await get("sleep", `http://${VIP}:8000/get`)));
      });

      const codes = await Promise.all(zts.map((z) => z.stop()));
      assert.deepEqual(codes, [0, 0]);
      console.log(`inpod_test: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await Promise.allSettled(zts.map((z) => z.stop()));
      await Promise.allSettled(peers.map((p) => p.kill()));
      await netns.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      for (const short of AMBIENT) {
        await Deno.remove(`/etc/netns/${netns.name(short)}`, { recursive: true }).catch(() => {});
      }
    }
  },
});
