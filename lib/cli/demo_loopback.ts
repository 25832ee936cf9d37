/**
 * The loopback demo: Istio's ambient L4 guide with every node and pod on its own 127.x address, no
 * root needed. A built-in CA, two nodes (each its own zt process), `sleep` and `notsleep` on node A,
 * two `httpbin` replicas behind a service VIP on nodes A and B. Requests go through zt (SOCKS5 on the
 * client pod's IP), alternate between the replicas, and the access logs show HBONE with SPIFFE
 * identities. Then the guide's L4 policy sequence and the drain.
 */
import { stringify } from "yaml";
import { errorMessage } from "../error.ts";
import { DEMO_NODES, DEMO_PODS, demoMesh } from "./demo_mesh.ts";
import { type DemoNode, startDemoNode } from "./demo_node.ts";
import { httpViaSocks5, startHttpbin } from "./demo_http.ts";
import { ALLOW_SLEEP, ALLOW_SLEEP_GET } from "./guide_policies.ts";
import { DemoReport } from "./demo_report.ts";
import { onInterrupt } from "./demo_interrupt.ts";

export async function loopbackDemo(): Promise<number> {
  const r = new DemoReport();
  const dir = await Deno.makeTempDir({ prefix: "zt-demo-" });
  const nodes: DemoNode[] = [];
  const servers: Array<{ close(): Promise<void> }> = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    cleaned ??= (async () => {
      await Promise.all(nodes.map((n) => n.stop("SIGKILL").catch(() => 0)));
      await Promise.all(servers.map((s) => s.close()));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const interrupt = onInterrupt(() => {
    r.mute();
    return cleanup();
  });
  try {
    r.step("1. A CA for the mesh (Istio plug-in CA files)");
    r.show(`zt ca init ${dir}/ca`);
    const { initCaDir } = await import("../identity/builtin_ca.ts");
    await initCaDir(`${dir}/ca`);
    r.line("  root-cert.pem  ca-cert.pem  ca-key.pem  cert-chain.pem");

    r.step("2. The ambient-demo namespace: sleep, notsleep, httpbin x2 on two nodes");
    const configPath = `${dir}/mesh.yaml`;
    await Deno.writeTextFile(configPath, stringify(demoMesh()));
    for (const p of DEMO_PODS) r.line(`  ${p.name.padEnd(10)} ${p.ip.padEnd(12)} ${p.node}`);
    r.line("  service httpbin.ambient-demo.svc.cluster.local  VIP 10.96.0.20:8000 -> 8080");
    for (const p of DEMO_PODS.filter((p) => p.app === "httpbin")) {
      servers.push(startHttpbin(p.name, p.ip, 8080));
    }

    r.step("3. Two zt nodes (NODE_NAME, INSTANCE_IP, LOCAL_XDS_PATH, LOCAL_CA_DIR)");
    for (const n of DEMO_NODES) {
      r.show(`NODE_NAME=${n.name} INSTANCE_IP=${n.ip} LOCAL_XDS_PATH=mesh.yaml LOCAL_CA_DIR=ca zt run`);
      nodes.push(await startDemoNode({ ...n, caDir: `${dir}/ca`, configPath }));
    }
    const [nodeA, nodeB] = nodes;
    r.line("  both nodes ready (GET /healthz/ready → 200)");

    r.step("4. What node A sees (zt config workloads / secrets)");
    r.show(`zt config workloads --admin ${nodeA.ip}:15000`);
    r.line(await nodeA.view("workloads"));
    r.show(`zt config secrets --admin ${nodeA.ip}:15000`);
    r.line(await nodeA.view("secrets"));

    r.step("5. sleep → httpbin:8000, ten times, through zt (HBONE between the nodes)");
    const sleep = DEMO_PODS.find((p) => p.name === "sleep")!;
    const notsleep = DEMO_PODS.find((p) => p.name === "notsleep")!;
    r.show(`curl --socks5-hostname ${sleep.ip}:15080 http://httpbin:8000/   # x10`);
    const served: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await httpViaSocks5(sleep.ip, "httpbin", 8000);
      served.push(res.servedBy ?? `error: ${res.error}`);
    }
    r.line(`  served by: ${served.join(" ")}`);
    r.expect(served.every((s) => s.startsWith("httpbin-")), "every request answered by an httpbin replica");
    r.expect(new Set(served).size === 2, "requests alternate between the two replicas (round robin)");

    r.step("6. The access logs: HBONE with SPIFFE identities on both sides");
    const remote = await nodeB.waitForAccess("inbound");
    const local = await nodeA.waitForAccess("outbound");
    r.line(`  node-a ${local}`);
    r.line(`  node-b ${remote}`);
    r.expect(
      remote.includes("spiffe://cluster.local/ns/ambient-demo/sa/sleep"),
      "node-b saw the peer identity of sleep",
    );

    r.step("7. L4 AuthorizationPolicy: only sleep may reach httpbin");
    await Deno.writeTextFile(configPath, stringify(demoMesh()) + "---\n" + ALLOW_SLEEP);
    r.line(ALLOW_SLEEP.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
    await Promise.all(nodes.map((n) => n.waitForPolicy("ambient-demo/allow-sleep-to-httpbin", true)));
    const s1 = await httpViaSocks5(sleep.ip, "httpbin", 8000);
    const n1 = await httpViaSocks5(notsleep.ip, "httpbin", 8000);
    r.expect(s1.status === 200, `sleep → httpbin: ${s1.status ?? s1.error}`);
    r.expect(n1.status === undefined, `notsleep → httpbin refused: ${n1.error ?? n1.status}`);

    r.step("8. The same policy with to.operation.methods: [GET] (L7, no waypoint): everyone is refused");
    await Deno.writeTextFile(configPath, stringify(demoMesh()) + "---\n" + ALLOW_SLEEP_GET);
    await Promise.all(nodes.map((n) => n.waitForLog((l) => String(l.warning ?? "").includes("methods"))));
    await new Promise((r) => setTimeout(r, 200));
    const s2 = await httpViaSocks5(sleep.ip, "httpbin", 8000);
    const n2 = await httpViaSocks5(notsleep.ip, "httpbin", 8000);
    r.expect(s2.status === undefined, `sleep → httpbin refused: ${s2.error ?? s2.status}`);
    r.expect(n2.status === undefined, `notsleep → httpbin refused: ${n2.error ?? n2.status}`);

    r.step("9. Policy deleted: both pass again");
    await Deno.writeTextFile(configPath, stringify(demoMesh()));
    await Promise.all(nodes.map((n) => n.waitForPolicy("ambient-demo/allow-sleep-to-httpbin", false)));
    const s3 = await httpViaSocks5(sleep.ip, "httpbin", 8000);
    const n3 = await httpViaSocks5(notsleep.ip, "httpbin", 8000);
    r.expect(
      s3.status === 200 && n3.status === 200,
      `sleep: ${s3.status ?? s3.error}, notsleep: ${n3.status ?? n3.error}`,
    );

    r.step("10. Drain: SIGTERM, GOAWAY, exit 0");
    for (const n of nodes.splice(0)) {
      const code = await n.stop();
      r.expect(code === 0, `${n.name} drained and exited with ${code}`);
    }
  } catch (e) {
    r.fail(errorMessage(e));
  } finally {
    await cleanup();
    interrupt.remove();
  }
  return r.finish();
}
