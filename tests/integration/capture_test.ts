/**
 * Transparent capture end to end, as root: Istio's ambient guide topology built from network
 * namespaces. Two node namespaces (a zt each, ZT_CAPTURE=tproxy, rules by `zt redirect`) joined by a
 * veth; pods are namespaces with a /32 and a veth to their node. Unmodified clients (curl, or a plain
 * TCP client) reach httpbin by its service VIP, which is routed nowhere: only capture makes it work.
 * Proven by the destination node's access log (peer SPIFFE identity) and by iptables counters on the
 * node-to-node link (no plaintext to the app port, HBONE only). Everything is torn down in `finally`.
 */
import assert from "node:assert/strict";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import {
  captureNodes,
  captureWiringSkipReason,
  inboundLogs,
  NetnsZtNode,
  ztArgv,
} from "../fakes/netns_zt_node.ts";
import { writeMeshFiles } from "../fakes/zt_node.ts";
import { Topology } from "../fakes/ambient_topology.ts";
import { type MeshOptions, meshYaml, spiffeId, VIP } from "../fakes/ambient_mesh.ts";

const SKIP = captureWiringSkipReason() ?? await netnsSkipReason();
if (SKIP) console.log(`capture_test: skipped: ${SKIP}`);

Deno.test({
  name: "capture: TPROXY into zt on two namespace nodes, the ambient guide's traffic and policies",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const started = performance.now();
    const netns = new Netns(`ztcap-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-capture-" });
    const topo = new Topology(netns);
    const zts: NetnsZtNode[] = [];
    try {
      await topo.build();
      const { caDir, configPath } = await writeMeshFiles(dir, meshYaml());
      const [A, B] = topo.nodes;
      const writeMesh = async (o: MeshOptions) => {
        const marks = zts.map((z) => z.logs.length);
        await Deno.writeTextFile(`${configPath}.tmp`, meshYaml(o));
        await Deno.rename(`${configPath}.tmp`, configPath);
        await Promise.all(
          zts.map((z, i) => z.waitForLog((l) => l.message === "config applied", 10_000, marks[i])),
        );
      };
      const redirect = (node: 0 | 1, ...args: string[]) =>
        netns.run(
          topo.nodes[node].ns,
          ztArgv(["redirect", ...args, "--config", configPath, "--node", topo.nodes[node].name], [
            "--allow-run=ip,iptables,iptables-restore,sysctl",
          ]),
        );
      const get = (pod: string, url: string) => topo.httpGet(pod, url);
      const served = (r: { code: number; body: string }) =>
        r.code === 0 && r.body.includes("<title>httpbin.org</title>");
      const before = await Promise.all(([0, 1] as const).map((i) => topo.snapshot(i)));

      await t.step("without capture a service VIP is unreachable", async () => {
        const r = await get("sleep", `http://${VIP}:8000/get`);
        assert.notEqual(r.code, 0);
        assert.ok(!served(r));
      });

      await t.step(
        "zt redirect --dry-run prints the exact rules for ambient pods only, and changes nothing",
        async () => {
          const r = await redirect(0, "install", "--dry-run");
          assert.equal(r.code, 0, r.stderr);
          for (const p of topo.pods.filter((p) => p.node === 0)) {
            const captured = p.namespace === "ambient-demo";
            assert.equal(
              r.stdout.includes(`-s ${p.ip}/32 -i v-${p.short} -p tcp`),
              captured,
              `${p.name} outbound rule`,
            );
            assert.equal(
              r.stdout.includes(`-d ${p.ip}/32 -p tcp -m tcp --syn`),
              captured,
              `${p.name} inbound rule`,
            );
          }
          assert.match(
            r.stdout,
            /# skip client-a\/sleep: namespace client-a is not labelled istio.io\/dataplane-mode=ambient/,
          );
          assert.match(r.stdout, /# skip client-b\/sleep: pod has a sidecar/);
          assert.match(r.stdout, /^iptables-restore -w --noflush <<'EOF'$/m);
          assert.deepEqual(await topo.snapshot(0), before[0]);
        },
      );

      await t.step(
        "ZT_CAPTURE=tproxy before zt redirect install: zt refuses to start, saying why",
        async () => {
          const early = new NetnsZtNode({
            netns,
            ns: A.ns,
            name: A.name,
            ip: A.ip,
            caDir,
            configPath,
            env: { ZT_CAPTURE: "tproxy", UNSTABLE_ENABLE_SOCKS5: "false" },
          });
          assert.equal(await early.exited(20_000), 1);
          assert.ok(
            early.logs.some((l) =>
              /ip_nonlocal_bind is off .* run `zt redirect install` first/.test(String(l.message))
            ),
          );
        },
      );

      await t.step("zt redirect install on both nodes, twice: idempotent", async () => {
        for (const n of [0, 1] as const) {
          const r1 = await redirect(n, "install");
          assert.equal(r1.code, 0, r1.stderr);
          const once = await topo.snapshot(n);
          const r2 = await redirect(n, "install");
          assert.equal(r2.code, 0, r2.stderr);
          assert.deepEqual(await topo.snapshot(n), once);
          assert.notDeepEqual(once, before[n]);
        }
      });

      zts.push(...captureNodes(netns, [A, B], { caDir, configPath }));
      await Promise.all(zts.map((z) => z.ready()));
      const [za, zb] = zts;
      assert.ok(za.logs.some((l) => l.message === "capture listeners up"));

      await t.step("sleep reaches httpbin by its VIP on both nodes, over HBONE", async () => {
        await topo.zeroCounters();
        const seen = new Set<string>();
        for (let i = 0; i < 24 && seen.size < 2; i++) {
          const r = await get("sleep", `http://${VIP}:8000/get`);
          assert.ok(served(r), `request ${i}: ${r.code} ${r.body}`);
          seen.add(/served by (\S+)/.exec(r.body)![1]);
        }
        assert.deepEqual([...seen].sort(), ["httpbin-1", "httpbin-2"]);
        const direct = await get("sleep", `http://${topo.pod("httpbin-2").ip}/get`);
        assert.ok(served(direct) && direct.body.includes("served by httpbin-2"));
        const rec = await zb.waitForLog((l) =>
          l.message === "connection complete" && l.direction === "inbound" &&
          l["src.identity"] === spiffeId("ambient-demo", "sleep")
        );
        assert.equal(rec["dst.addr"], `${topo.pod("httpbin-2").ip}:15008`);
        assert.equal(rec["dst.hbone_addr"], `${topo.pod("httpbin-2").ip}:80`);
        const same = await za.waitForLog((l) =>
          l.message === "connection complete" && l.direction === "inbound" &&
          l["dst.addr"] === `${topo.pod("httpbin-1").ip}:15008`
        );
        assert.equal(same["src.identity"], spiffeId("ambient-demo", "sleep"));
        const out = await za.waitForLog((l) =>
          l.message === "connection complete" && l.direction === "outbound"
        );
        assert.equal(out["src.workload"], "sleep");
        const c = await topo.counters();
        assert.equal(c.plainToApp, 0, "plaintext to the app port crossed the node link");
        assert.equal(c.plainFromApp, 0, "plaintext from the app port crossed the node link");
        assert.ok(c.hbone > 0, "no HBONE packets crossed the node link");
      });

      await t.step("a captured pod reaches a non-mesh server as plain TCP (passthrough)", async () => {
        const web = topo.pod("web");
        const r = await get("sleep", `http://${web.ip}:8080/get`);
        assert.ok(r.code === 0 && r.body.includes("served by web"), `${r.code} ${r.body}`);
        const rec = await za.waitForLog((l) =>
          l.message === "connection complete" && l.direction === "outbound" &&
          l["dst.addr"] === `${web.ip}:8080`
        );
        assert.equal(rec["src.workload"], "sleep");
        assert.equal(rec["dst.identity"], undefined);
      });

      await t.step("a sidecar-style HBONE client (own mesh certificate) reaches an ambient pod", async () => {
        const r = await topo.hboneGet("side", caDir, "client-b", "sleep", topo.pod("httpbin-2").ip, 80);
        assert.ok(served(r), `${r.code} ${r.body}`);
        await zb.waitForLog((l) =>
          l.direction === "inbound" && l["src.identity"] === spiffeId("client-b", "sleep")
        );
      });

      await t.step(
        "a non-mesh client reaches an ambient pod in plaintext (15006), client address logged",
        async () => {
          const mark = zb.logs.length;
          const r = await get("legacy", `http://${VIP}:8000/get`);
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
          assert.equal(rec["dst.workload"], "httpbin-2");
          assert.ok((await topo.counters()).plainToApp > 0, "the link counter misses plaintext (control)");
        },
      );

      await t.step("policy: ALLOW only sleep's principal → notsleep refused", async () => {
        await writeMesh({ policy: "allow-sleep" });
        for (let i = 0; i < 3; i++) assert.ok(served(await get("sleep", `http://${VIP}:8000/get`)));
        const mark = zts.map((z) => z.logs.length);
        for (let i = 0; i < 3; i++) {
          const r = await get("notsleep", `http://${VIP}:8000/get`);
          assert.ok(!served(r) && r.code !== 0, `notsleep was served: ${r.body}`);
        }
        const denied = await inboundLogs(
          zts,
          mark,
          (l) => l["src.identity"] === spiffeId("ambient-demo", "notsleep"),
          3,
        );
        assert.ok(denied.length >= 3 && denied.every((l) => String(l.error).includes("policy rejection")));
      });

      await t.step("policy: with methods [GET] (L7, not enforceable at L4) → both refused", async () => {
        await writeMesh({ policy: "allow-sleep-get" });
        for (const pod of ["sleep", "notsleep"]) {
          const r = await get(pod, `http://${VIP}:8000/get`);
          assert.ok(!served(r) && r.code !== 0, `${pod} was served`);
        }
      });

      await t.step("policy deleted → both pass", async () => {
        await writeMesh({});
        for (const pod of ["sleep", "notsleep"]) {
          assert.ok(served(await get(pod, `http://${VIP}:8000/get`)), pod);
        }
      });

      await t.step(
        "PeerAuthentication STRICT refuses the non-mesh client, PERMISSIVE serves it",
        async () => {
          await writeMesh({ peerAuth: "STRICT" });
          const r = await get("legacy", `http://${VIP}:8000/get`);
          assert.ok(!served(r) && r.code !== 0, "STRICT served plaintext");
          await zb.waitForLog((l) =>
            String(l["src.addr"]).startsWith(`${topo.pod("legacy").ip}:`) &&
            String(l.error).endsWith("explicitly denied by: istio-system/istio_converted_static_strict")
          );
          assert.ok(served(await get("sleep", `http://${VIP}:8000/get`)), "STRICT refused mTLS");
          const side = await topo.hboneGet("side", caDir, "client-b", "sleep", topo.pod("httpbin-2").ip, 80);
          assert.ok(served(side), "STRICT refused the sidecar's mTLS");
          await writeMesh({ peerAuth: "PERMISSIVE" });
          assert.ok(served(await get("legacy", `http://${VIP}:8000/get`)), "PERMISSIVE refused plaintext");
        },
      );

      await t.step("ambient off and on again for a running pod: re-run zt redirect, no restart", async () => {
        const notsleep = topo.pod("notsleep");
        await writeMesh({ notsleepRedirection: "disabled" });
        assert.equal((await redirect(0, "install")).code, 0);
        const off = await get("notsleep", `http://${VIP}:8000/get`);
        assert.ok(!served(off), "an uncaptured pod reached the VIP");
        const mark = zb.logs.length;
        assert.ok(served(await get("notsleep", `http://${topo.pod("httpbin-2").ip}/get`)));
        const plain = await zb.waitForLog(
          (l) => l.direction === "inbound" && String(l["src.addr"]).startsWith(`${notsleep.ip}:`),
          5000,
          mark,
        );
        assert.equal(plain["src.identity"], undefined);
        await writeMesh({});
        assert.equal((await redirect(0, "install")).code, 0);
        const mark2 = zts.map((z) => z.logs.length);
        assert.ok(served(await get("notsleep", `http://${VIP}:8000/get`)));
        const back = await inboundLogs(
          zts,
          mark2,
          (l) => l["src.identity"] === spiffeId("ambient-demo", "notsleep"),
          1,
        );
        assert.ok(back.length >= 1, "notsleep's traffic is not tunnelled again");
      });

      await t.step("zt redirect remove leaves no rule behind (and is idempotent)", async () => {
        for (const n of [0, 1] as const) {
          for (let i = 0; i < 2; i++) {
            const r = await redirect(n, "remove");
            assert.equal(r.code, 0, r.stderr);
          }
          assert.deepEqual(await topo.snapshot(n), before[n]);
        }
        assert.ok(!served(await get("sleep", `http://${VIP}:8000/get`)));
      });

      const codes = await Promise.all(zts.map((z) => z.stop()));
      assert.deepEqual(codes, [0, 0]);
      console.log(`capture_test: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await Promise.allSettled(zts.map((z) => z.stop()));
      await netns.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
