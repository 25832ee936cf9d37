/**
 * The in-pod demo: Istio's ambient L4 guide as Istio ≥ 1.21 runs it, on one machine. Nodes and pods are
 * network namespaces; `zt cni` (istio-cni's part) installs the in-pod rules in each ambient pod and
 * hands the pods to an in-pod `zt run` per node over ZDS, which opens each pod's listeners inside the
 * pod. Unmodified clients in pods sleep and notsleep then reach httpbin by name: resolved by zt's DNS
 * proxy in the pod, captured by istio-cni's rules, tunnelled over HBONE to the replica's pod. Then the
 * guide's policy sequence and the drain; everything the demo made is removed again.
 */
import { errorMessage } from "../error.ts";
import { initCaDir } from "../identity/builtin_ca.ts";
import { systemExec } from "../capture/command_runner.ts";
import { HTTPBIN_HOST } from "./demo_mesh.ts";
import {
  formatStep,
  INPOD_NAMESPACES,
  INPOD_NODES,
  INPOD_PODS,
  inpodPod,
  podResolvConf,
  stepConcerns,
  type TopologyStep,
  topologySteps,
} from "./demo_inpod_plan.ts";
import { InpodRig } from "./demo_inpod_rig.ts";
import { type ClientPod, PodClient } from "./demo_pod_client.ts";
import { onPath } from "./demo_inpod_probe.ts";
import { DemoReport } from "./demo_report.ts";
import { onInterrupt } from "./demo_interrupt.ts";
import { ztCommand } from "./node_process.ts";
import { formatLogLine } from "./demo_node.ts";
import { ALLOW_SLEEP, ALLOW_SLEEP_GET } from "./guide_policies.ts";
import type { LogRecord } from "./log_collector.ts";

const SLEEP_ID = "spiffe://cluster.local/ns/ambient-demo/sa/sleep";
const NOTSLEEP_ID = "spiffe://cluster.local/ns/ambient-demo/sa/notsleep";
const URL_ROOT = "http://httpbin:8000/";

const clientPod = (name: string): ClientPod => {
  const p = inpodPod(name);
  return { ns: p.ns, netns: p.netns, resolvConf: podResolvConf("ambient-demo") };
};

const env = (vars: Record<string, string>, show: (v: string) => string) =>
  Object.entries(vars).map(([k, v]) => `${k}=${show(v)}`).join(" ");

export async function inpodDemo(): Promise<number> {
  const r = new DemoReport();
  const rig = await InpodRig.create((old) =>
    r.out(`(removing what an interrupted zt demo, pid ${old.pid}, left: ${old.namespaces.join(" ")})`)
  );
  const cleanup = async () => {
    const problems = await rig.close();
    for (const p of problems) console.error(`zt demo: cleanup: ${p}`);
    return problems;
  };
  const interrupt = onInterrupt(() => {
    r.mute();
    return cleanup();
  });
  const exec = systemExec();
  const client = new PodClient(exec, rig.sockets, {
    curl: onPath("curl"),
    dig: onPath("dig"),
    getent: onPath("getent"),
  });
  /** Paths in the temp directory, as the commands shown name them (relative to it). */
  const rel = (v: string) => v.replaceAll(`${rig.dir}/`, "");
  const sleep = clientPod("sleep");
  const notsleep = clientPod("notsleep");
  try {
    r.step("1. A CA for the mesh (Istio plug-in CA files)");
    r.show(`zt ca init ${rig.caDir}`);
    await initCaDir(rig.caDir);
    r.out("root-cert.pem  ca-cert.pem  ca-key.pem  cert-chain.pem");

    r.step("2. Two nodes and four pods as network namespaces (veths, routes, a Kubernetes resolv.conf)");
    const steps = topologySteps();
    const podOf = (s: TopologyStep) => INPOD_PODS.find((p) => stepConcerns(s, p));
    for (const s of steps.filter((s) => [undefined, "sleep"].includes(podOf(s)?.name))) r.show(formatStep(s));
    r.out(`... and the same for notsleep, httpbin-1 (node-a) and httpbin-2 (node-b): ${steps.length} steps`);
    await rig.buildTopology();
    for (const n of INPOD_NODES) {
      const pods = INPOD_PODS.filter((p) => p.node === n.name).map((p) => `${p.name} ${p.ip}`).join(", ");
      r.out(`${n.name.padEnd(7)} ${n.ip.padEnd(11)} pods ${n.podNet}: ${pods}`);
    }
    r.show("cat /etc/netns/sleep/resolv.conf   # ip netns exec mounts it over /etc/resolv.conf");
    r.out(podResolvConf("ambient-demo"));
    await rig.writeMesh();
    r.out(
      `mesh.yaml: the guide's workloads with each pod's netns: (/var/run/netns/<pod>), service ` +
        `${HTTPBIN_HOST} VIP 10.96.0.20:8000 -> 8080`,
    );
    rig.startHttpbins();
    r.out("httpbin-1 and httpbin-2 listen on 0.0.0.0:8080 inside their pods' namespaces");

    r.step("3. istio-cni's part: zt cni per node (in-pod rules in each ambient pod, the pods over ZDS)");
    for (const n of INPOD_NODES) {
      r.show(`ip netns exec ${n.ns} zt ${rig.cniArgs(n).map(rel).join(" ")} &`);
    }
    await rig.startCni();
    r.show("ip netns exec sleep iptables-save -t nat | grep REDIRECT");
    const nat = await rig.namespaces.must("sleep", ["iptables-save", "-t", "nat"]);
    const redirects = nat.split("\n").filter((l) => l.includes("REDIRECT"));
    r.out(redirects.join("\n"));
    r.expect(
      [15001, 15006, 15053].every((p) => redirects.some((l) => l.includes(`--to-ports ${p}`))),
      "istio-cni's rules in pod sleep: outbound → 15001, inbound → 15006, DNS → 15053",
    );

    r.step("4. A zt node per node namespace, in in-pod mode (INPOD_ENABLED, INPOD_UDS)");
    for (const n of INPOD_NODES) {
      r.show(`ip netns exec ${n.ns} env ${env(rig.nodeEnv(n), rel)} zt run &`);
    }
    await rig.startNodes();
    r.out("both nodes ready: istio-cni's snapshot taken, every pod's proxy running in its namespace");

    r.step("5. Inside pod sleep: zt's listeners, and its DNS");
    if (onPath("ss")) {
      r.show("ip netns exec sleep ss -ltn");
      const ss = await rig.namespaces.must("sleep", ["ss", "-ltn"]);
      r.out(ss);
      const ports = ss.split("\n").map((l) => l.trim().split(/\s+/)[3] ?? "");
      r.expect(
        ["15001", "15006", "15008", "15053"].every((p) => ports.some((a) => a.endsWith(`:${p}`))),
        "zt listens on 15001, 15006, 15008 and 15053 inside pod sleep (zt itself runs in node-a)",
      );
    } else r.out("(ss is not installed: the listeners in pod sleep are not shown)");
    r.out(`(${client.describe()})`);
    r.show(client.lookupCommand(sleep, "httpbin"));
    const dns = await client.lookup(sleep, "httpbin");
    r.out(dns.output);
    r.expect(
      dns.addresses.includes("10.96.0.20"),
      `httpbin → 10.96.0.20: asked of ${"10.96.0.10"} (kube-dns), answered by zt's DNS proxy in the pod`,
    );

    r.step("6. What node A sees (zt config workloads / secrets)");
    const zt = ztCommand();
    for (const view of ["workloads", "secrets"]) {
      r.show(`ip netns exec node-a zt config ${view}`);
      r.out(await rig.namespaces.must("node-a", [zt.cmd, ...zt.args, "config", view]));
    }

    const who = client.tools.curl ? "an unmodified curl" : "the built-in client";
    r.step(`7. sleep → httpbin:8000: ${who} in pod sleep, captured by istio-cni's rules`);
    r.show(client.httpCommand(sleep, URL_ROOT));
    const first = await client.get(sleep, URL_ROOT);
    r.out(first.ok ? first.body : first.error ?? "");
    r.expect(first.ok && first.body.includes("httpbin.org"), "httpbin answered, by name");
    r.show(`${client.httpCommand(sleep, `${URL_ROOT}hostname`)}   # x10`);
    const served: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await client.get(sleep, `${URL_ROOT}hostname`);
      served.push(/"hostname": "([^"]+)"/.exec(res.body)?.[1] ?? `error(${res.error})`);
    }
    r.out(`served by: ${served.join(" ")}`);
    r.expect(served.every((s) => s.startsWith("httpbin-")), "every request answered by an httpbin replica");
    r.expect(new Set(served).size === 2, "requests alternate between the two replicas (round robin)");
    r.show(client.httpCommand(sleep, `${URL_ROOT}ip`));
    const ip = await client.get(sleep, `${URL_ROOT}ip`);
    r.out(ip.ok ? ip.body : ip.error ?? "");
    r.expect(ip.body.includes(`"${inpodPod("sleep").ip}"`), "httpbin sees sleep's own pod IP as the client");

    r.step("8. The access logs: HBONE with SPIFFE identities, sleep's pod IP as the source");
    const [nodeA, nodeB] = rig.nodes;
    const out = await nodeA.waitForLog(access("outbound", SLEEP_ID));
    const inb = await nodeB.waitForLog(access("inbound", SLEEP_ID));
    r.out(`node-a ${formatLogLine(out)}\nnode-b ${formatLogLine(inb)}`);
    r.expect(
      String(inb["src.addr"]).startsWith(`${inpodPod("sleep").ip}:`),
      `node-b saw sleep's identity, from sleep's pod IP ${inpodPod("sleep").ip}`,
    );

    r.step("9. L4 AuthorizationPolicy: only sleep may reach httpbin");
    r.out(ALLOW_SLEEP);
    await rig.applyMesh(ALLOW_SLEEP);
    const marks = rig.nodes.map((z) => z.logs.length);
    await expectServed(r, client, sleep, true);
    await expectServed(r, client, notsleep, false);
    const denied = await Promise.any(
      rig.nodes.map((z, i) =>
        z.waitForLog((l) => access("inbound", NOTSLEEP_ID)(l) && l.error !== undefined, 5000, marks[i])
      ),
    ).catch(() => undefined);
    if (denied) r.out(formatLogLine(denied));
    r.expect(
      String(denied?.error ?? "").includes("policy"),
      "the destination's zt refused notsleep by policy",
    );

    r.step("10. The same policy with to.operation.methods: [GET] (L7, no waypoint): everyone is refused");
    await rig.applyMesh(ALLOW_SLEEP_GET);
    await expectServed(r, client, sleep, false);
    await expectServed(r, client, notsleep, false);

    r.step("11. Policy deleted: both pass again");
    await rig.applyMesh();
    await expectServed(r, client, sleep, true);
    await expectServed(r, client, notsleep, true);

    r.step("12. Drain: SIGTERM to the nodes (each pod's proxies drain), then to zt cni (rules removed)");
    for (const z of rig.nodes) {
      const code = await z.stop();
      r.expect(code === 0, `${z.name} drained and exited with ${code}`);
    }
    for (const c of rig.cnis) {
      const code = await c.stop();
      r.expect(code === 0, `${c.name} removed its rules and its socket, exited with ${code}`);
    }
    const after = await rig.namespaces.must("sleep", ["iptables-save"]);
    r.expect(!after.includes("ISTIO"), "no istio-cni rule left in pod sleep");
  } catch (e) {
    r.fail(errorMessage(e));
  } finally {
    const problems = await cleanup();
    interrupt.remove();
    if (problems.length === 0) {
      r.out(`removed: the namespaces ${INPOD_NAMESPACES.join(" ")}, /etc/netns/<pod>, ${rig.dir}`);
    } else r.fail(`${problems.length} thing(s) the demo made could not be removed`);
  }
  return r.finish();
}

function access(direction: "inbound" | "outbound", identity: string): (l: LogRecord) => boolean {
  return (l) =>
    l.message === "connection complete" && l.direction === direction && l["src.identity"] === identity;
}

async function expectServed(r: DemoReport, client: PodClient, pod: ClientPod, allowed: boolean) {
  r.show(client.httpCommand(pod, URL_ROOT));
  const res = await client.get(pod, URL_ROOT);
  const what = res.ok ? res.body.trim() : res.error ?? "refused";
  r.expect(
    res.ok === allowed,
    `${pod.ns} → httpbin ${allowed ? "served" : "refused"}: ${what.split("\n")[0]}`,
  );
}
