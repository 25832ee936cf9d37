/**
 * The DaemonSet's container run for real, as root: `zt <args of the manifest>` (`zt proxy ztunnel`)
 * with the manifest's environment (downward API filled in, the pod IP on the pod's interface) inside
 * a network namespace standing for the pod, standalone (LOCAL_XDS_PATH + LOCAL_CA_DIR instead of
 * istiod, as the manifest's header describes). It becomes ready on the pod IP (the kubelet's probe),
 * serves metrics there, and its admin API only on the pod's localhost (127.0.0.1 and ::1), where
 * istioctl's port-forward lands: /logging as `istioctl ztunnel-config log` calls it, and config_dump
 * read by istioctl's own code (tests/peers/istioctl_dump). Without IPv6 on the pod's loopback, admin
 * stays on 127.0.0.1; a RUST_LOG in ztunnel's target syntax starts it with one warning.
 */
import assert from "node:assert/strict";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { ztArgv } from "../fakes/netns_zt_node.ts";
import { runZt, writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod } from "../fakes/mesh_config.ts";
import { goAvailable } from "../fakes/go_peer.ts";
import { LogCollector, type LogRecord } from "../../lib/cli/log_collector.ts";
import { istioctlView, tableRows } from "../peers/istioctl_dump/istioctl_dump.ts";
import { daemonSet, DOWNWARD, resolveEnv } from "./daemonset_fixture.ts";

const SKIP = await netnsSkipReason(["ip", "curl", "sysctl"]);
if (SKIP) console.log(`chart_container_test: skipped: ${SKIP}`);
const GO = await goAvailable();

const POD_IP = "10.233.0.7";
const WEB = {
  name: "web-1",
  ip: "10.233.0.20",
  node: DOWNWARD["spec.nodeName"],
  namespace: "shop",
  extra: { services: { "shop/web.shop.svc.cluster.local": { 80: 8080 } } },
};
const DB = { name: "db-1", ip: "10.233.9.30", node: "node-2", namespace: "shop" };

interface Reply {
  /** curl's exit code: 0 answered, 7 connection refused. */
  readonly curl: number;
  readonly status: number;
  readonly body: string;
}

class ChartPod {
  readonly #logs: LogCollector;
  constructor(readonly netns: Netns, readonly ns: string, readonly child: Deno.ChildProcess) {
    this.#logs = new LogCollector(child.stderr, ns);
    child.stdout.cancel().catch(() => {});
  }

  get logs(): LogRecord[] {
    return this.#logs.logs;
  }

  async ready(): Promise<void> {
    const exited = this.child.status.then((s) => {
      throw new Error(`zt exited (${s.code}):\n${this.#logs.dump()}`);
    });
    await Promise.race([this.#logs.waitFor((l) => l.message === "zt ready", 30_000), exited]);
  }

  /** `curl` from inside the pod (its localhost is the pod's). */
  async http(url: string, method = "GET"): Promise<Reply> {
    const r = await this.netns.run(this.ns, [
      "curl",
      "-s",
      "-g",
      "--max-time",
      "5",
      "-X",
      method,
      "-w",
      "\n%{http_code}",
      url,
    ]);
    const nl = r.stdout.lastIndexOf("\n");
    const body = r.stdout.slice(0, Math.max(nl, 0)).replace(/\n$/, "");
    return { curl: r.code, status: Number(r.stdout.slice(nl + 1)), body };
  }

  async stop(): Promise<number> {
    this.child.kill("SIGTERM");
    const s = await this.child.status;
    await this.#logs.done;
    return s.code;
  }
}

/** Starts the manifest's container in pod namespace `ns` (created, with POD_IP on eth0). */
async function startChartPod(
  netns: Netns,
  short: string,
  files: { caDir: string; configPath: string },
  opts: { sysctls?: Record<string, string>; env?: Record<string, string> } = {},
): Promise<ChartPod> {
  const ns = await netns.add(short, opts.sysctls);
  // eth0 with the pod IP (its veth peer stays in the pod: nothing else is needed on the link)
  await netns.must(ns, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"]);
  await netns.must(ns, ["ip", "link", "set", "peer0", "up"]);
  await netns.must(ns, ["ip", "addr", "add", `${POD_IP}/24`, "dev", "eth0"]);
  await netns.must(ns, ["ip", "addr", "add", `${WEB.ip}/32`, "dev", "eth0"]);
  await netns.must(ns, ["ip", "link", "set", "eth0", "up"]);
  const [c] = (await daemonSet()).spec.template.spec.containers;
  const env = resolveEnv(c.env, { ...DOWNWARD, "status.podIP": POD_IP });
  // Standalone instead of istiod; in-pod mode needs istio-cni's ZDS server (tests/inpod covers it).
  delete env.XDS_ADDRESS;
  delete env.CA_ADDRESS;
  Object.assign(env, {
    LOCAL_XDS_PATH: files.configPath,
    LOCAL_CA_DIR: files.caDir,
    INPOD_ENABLED: "false",
    ...opts.env,
  });
  return new ChartPod(netns, ns, netns.spawn(ns, ztArgv(c.args), env));
}

const MESH = {
  workloads: [meshPod(WEB), meshPod(DB)],
  services: [{
    name: "web",
    namespace: "shop",
    hostname: "web.shop.svc.cluster.local",
    vips: ["/10.96.33.1"],
    ports: { 80: 8080 },
  }],
};

Deno.test({
  name: "chart container: zt proxy ztunnel with the DaemonSet's env; admin on the pod's localhost only",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const netns = new Netns(`ztchart-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-chart-" });
    let pod: ChartPod | undefined;
    try {
      const files = await writeMeshFiles(dir, MESH);
      pod = await startChartPod(netns, "pod", files);
      const p = pod;
      await p.ready();

      await t.step(
        "readiness and metrics answer on the pod IP (the kubelet, Prometheus) and [::]",
        async () => {
          for (const host of [POD_IP, "127.0.0.1", "[::1]"]) {
            const r = await p.http(`http://${host}:15021/healthz/ready`);
            assert.deepEqual([r.status, r.body], [200, "ready"], host);
          }
          const m = await p.http(`http://${POD_IP}:15020/metrics`);
          assert.equal(m.status, 200);
          assert.match(m.body, /^istio_build\{/m);
        },
      );

      await t.step("admin answers on 127.0.0.1 and [::1], and is closed on the pod IP", async () => {
        const listening = p.logs.find((l) => l.message === "listening");
        assert.equal(listening?.admin, "127.0.0.1:15000,[::1]:15000");
        for (const host of ["127.0.0.1", "[::1]", "localhost"]) {
          const r = await p.http(`http://${host}:15000/logging?level=`, "POST");
          assert.deepEqual([r.status, r.body], [200, "current log level is info"], host);
        }
        for (const path of ["/logging?level=trace", "/quitquitquit", "/config_dump"]) {
          const r = await p.http(`http://${POD_IP}:15000${path}`, path === "/config_dump" ? "GET" : "POST");
          assert.equal(r.curl, 7, `${path} on the pod IP: connection refused (curl exit ${r.curl})`);
        }
      });

      await t.step("istioctl ztunnel-config log: list, set, reset", async () => {
        const base = "http://localhost:15000/logging";
        let r = await p.http(`${base}?level=access:debug,info`, "POST");
        assert.equal(r.body, "current log level is info,access=debug");
        r = await p.http(`${base}?level=ztunnel::proxy::inbound=trace`, "POST");
        assert.equal(r.body, "current log level is info,access=debug,ztunnel::proxy::inbound=trace");
        r = await p.http(`${base}?level=info&reset`, "POST");
        assert.equal(r.body, "current log level is info");
      });

      await t.step({
        name: "istioctl ztunnel-config workloads|services|certificates through the pod's localhost",
        ignore: !GO,
        fn: async () => {
          const view = await istioctlView(
            { url: "http://localhost:15000/config_dump" },
            netns.exec(p.ns, []),
          );
          assert.deepEqual(tableRows(view.workloads.short).slice(1), [
            ["shop", "db-1", DB.ip, "node-2", "None", "HBONE"],
            ["shop", "web-1", WEB.ip, "node-1", "None", "HBONE"],
          ]);
          assert.deepEqual(tableRows(view.services.short).slice(1), [[
            "shop",
            "web",
            "10.96.33.1",
            "None",
            "1/1",
          ]]);
          const certs = tableRows(view.certificates.short).slice(1);
          const id = "spiffe://cluster.local/ns/shop/sa/web";
          // `zt ca init` is Istio's plug-in CA: the leaf, its signer ca-cert.pem, then root-cert.pem
          assert.deepEqual(certs.map((r) => r.slice(0, 4)), [
            [id, "Leaf", "Available", "true"],
            [id, "Intermediate", "Available", "true"],
            [id, "Root", "Available", "true"],
          ]);
        },
      });

      await t.step("SIGTERM drains and exits 0", async () => {
        assert.equal(await p.stop(), 0);
        pod = undefined;
      });
    } finally {
      if (pod) await pod.stop().catch(() => {});
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "chart container without IPv6 on the pod's loopback, RUST_LOG in ztunnel's syntax: admin on 127.0.0.1",
  ignore: SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const netns = new Netns(`ztchart6-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-chart6-" });
    try {
      const files = await writeMeshFiles(dir, MESH);
      const p = await startChartPod(netns, "pod", files, {
        sysctls: { "net.ipv6.conf.lo.disable_ipv6": "1" },
        env: { RUST_LOG: "hickory_server::server=off,info,ztunnel::proxy::inbound=debug" },
      });
      try {
        await p.ready();
        const warnings = p.logs.filter((l) =>
          l.level === "warn" && /no zt counterpart/.test(String(l.message))
        );
        assert.equal(warnings.length, 1, "one warning");
        assert.match(String(warnings[0].message), /: hickory_server::server /);
        assert.equal(p.logs.find((l) => l.message === "listening")?.admin, "127.0.0.1:15000");
        const r = await p.http("http://127.0.0.1:15000/logging", "POST");
        assert.equal(r.body, "current log level is info,ztunnel::proxy::inbound=debug");
        assert.equal((await p.http("http://[::1]:15000/logging", "POST")).curl, 7, "no ::1 to reach");
        assert.equal((await p.http(`http://${POD_IP}:15021/healthz/ready`)).status, 200);
      } finally {
        assert.equal(await p.stop(), 0);
      }
    } finally {
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("zt proxy: only `ztunnel` is a proxy kind; anything else is a usage error", async () => {
  for (const args of [["proxy"], ["proxy", "sidecar"], ["proxy", "--log-level", "debug"]]) {
    const r = await runZt(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /^zt proxy: (no proxy kind|unknown proxy kind)/, args.join(" "));
    assert.match(r.stderr, /zt proxy ztunnel \[--<setting> value \.\.\.\]/);
  }
  const help = await runZt(["proxy", "ztunnel", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /exactly like `zt run`/);
});
