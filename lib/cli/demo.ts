/**
 * `zt demo`: Istio's ambient L4 guide on one machine. A built-in CA, two nodes (each its own zt
 * process on its own 127.x address), `sleep` and `notsleep` on node A, two `httpbin` replicas behind
 * a service VIP on nodes A and B. Requests go through zt (SOCKS5 on the client pod's IP), alternate
 * between the replicas, and the access logs show HBONE with SPIFFE identities. Then the guide's L4
 * policy sequence. Everything is cleaned up; exit code 0 when every step behaved as the guide says.
 */
import { stringify } from "yaml";
import { errorMessage } from "../error.ts";
import { DEMO_NODES, DEMO_PODS, demoMesh } from "./demo_mesh.ts";
import { type DemoNode, startDemoNode } from "./demo_node.ts";
import { httpViaSocks5, startHttpbin } from "./demo_http.ts";
import { ztCommand } from "./node_process.ts";
import { ALLOW_SLEEP, ALLOW_SLEEP_GET } from "./guide_policies.ts";

const bold = (s: string) => (Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s);

function step(title: string): void {
  console.log(`\n${bold(`== ${title}`)}`);
}

function show(cmd: string): void {
  console.log(`$ ${cmd}`);
}

/** The demo starts its nodes as processes; the binary's permissions (permissions.txt) leave that out. */
function canStartNodes(): boolean {
  const command = ztCommand().cmd;
  if (Deno.permissions.querySync({ name: "run", command }).state === "granted") return true;
  console.error(
    `zt demo starts its nodes as child processes, which needs --allow-run (a node itself never does, so zt's\n` +
      `permissions leave it out). Run it with 'deno task demo', or add --allow-run to the bundle's flags:\n` +
      `  deno run --cached-only <permissions.txt flags> --allow-run dist/zt.js demo`,
  );
  return false;
}

export async function demoCommand(_args: string[]): Promise<number> {
  if (!canStartNodes()) return 1;
  const dir = await Deno.makeTempDir({ prefix: "zt-demo-" });
  const nodes: DemoNode[] = [];
  const servers: Array<{ close(): Promise<void> }> = [];
  let failures = 0;
  const expect = (ok: boolean, what: string) => {
    console.log(`${ok ? "  ✔" : "  ✘"} ${what}`);
    if (!ok) failures++;
  };
  try {
    step("1. A CA for the mesh (Istio plug-in CA files)");
    show(`zt ca init ${dir}/ca`);
    const { initCaDir } = await import("../identity/builtin_ca.ts");
    await initCaDir(`${dir}/ca`);
    console.log("  root-cert.pem  ca-cert.pem  ca-key.pem  cert-chain.pem");

    step("2. The ambient-demo namespace: sleep, notsleep, httpbin x2 on two nodes");
    const configPath = `${dir}/mesh.yaml`;
    await Deno.writeTextFile(configPath, stringify(demoMesh()));
    for (const p of DEMO_PODS) console.log(`  ${p.name.padEnd(10)} ${p.ip.padEnd(12)} ${p.node}`);
    console.log("  service httpbin.ambient-demo.svc.cluster.local  VIP 10.96.0.20:8000 -> 8080");
    for (const p of DEMO_PODS.filter((p) => p.app === "httpbin")) {
      servers.push(startHttpbin(p.name, p.ip, 8080));
    }

    step("3. Two zt nodes (NODE_NAME, INSTANCE_IP, LOCAL_XDS_PATH, LOCAL_CA_DIR)");
    for (const n of DEMO_NODES) {
      show(`NODE_NAME=${n.name} INSTANCE_IP=${n.ip} LOCAL_XDS_PATH=mesh.yaml LOCAL_CA_DIR=ca zt run`);
      nodes.push(await startDemoNode({ ...n, caDir: `${dir}/ca`, configPath }));
    }
    const [nodeA, nodeB] = nodes;
    console.log("  both nodes ready (GET /healthz/ready → 200)");

    step("4. What node A sees (zt config workloads / secrets)");
    show(`zt config workloads --admin ${nodeA.ip}:15000`);
    console.log(await nodeA.view("workloads"));
    show(`zt config secrets --admin ${nodeA.ip}:15000`);
    console.log(await nodeA.view("secrets"));

    step("5. sleep → httpbin:8000, ten times, through zt (HBONE between the nodes)");
    const sleep = DEMO_PODS.find((p) => p.name === "sleep")!;
    const notsleep = DEMO_PODS.find((p) => p.name === "notsleep")!;
    show(`curl --socks5-hostname ${sleep.ip}:15080 http://httpbin:8000/   # x10`);
    const served: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await httpViaSocks5(sleep.ip, "httpbin", 8000);
      served.push(r.servedBy ?? `error: ${r.error}`);
    }
    console.log(`  served by: ${served.join(" ")}`);
    expect(served.every((s) => s.startsWith("httpbin-")), "every request answered by an httpbin replica");
    expect(new Set(served).size === 2, "requests alternate between the two replicas (round robin)");

    step("6. The access logs: HBONE with SPIFFE identities on both sides");
    const remote = await nodeB.waitForAccess("inbound");
    const local = await nodeA.waitForAccess("outbound");
    console.log(`  node-a ${local}`);
    console.log(`  node-b ${remote}`);
    expect(
      remote.includes("spiffe://cluster.local/ns/ambient-demo/sa/sleep"),
      "node-b saw the peer identity of sleep",
    );

    step("7. L4 AuthorizationPolicy: only sleep may reach httpbin");
    await Deno.writeTextFile(configPath, stringify(demoMesh()) + "---\n" + ALLOW_SLEEP);
    console.log(ALLOW_SLEEP.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
    await Promise.all(nodes.map((n) => n.waitForPolicy("ambient-demo/allow-sleep-to-httpbin", true)));
    const s1 = await httpViaSocks5(sleep.ip, "httpbin", 8000);
    const n1 = await httpViaSocks5(notsleep.ip, "httpbin", 8000);
    expect(s1.status === 200, `sleep → httpbin: ${s1.status ?? s1.error}`);
    expect(n1.status === undefined, `notsleep → httpbin refused: ${n1.error ?? n1.status}`);

    step("8. The same policy with to.operation.methods: [GET] (L7, no waypoint): everyone is refused");
    await Deno.writeTextFile(configPath, stringify(demoMesh()) + "---\n" + ALLOW_SLEEP_GET);
    await Promise.all(nodes.map((n) => n.waitForLog((l) => String(l.warning ?? "").includes("methods"))));
    await new Promise((r) => setTimeout(r, 200));
    const s2 = await httpViaSocks5(sleep.ip, "httpbin", 8000);
    const n2 = await httpViaSocks5(notsleep.ip, "httpbin", 8000);
    expect(s2.status === undefined, `sleep → httpbin refused: ${s2.error ?? s2.status}`);
    expect(n2.status === undefined, `notsleep → httpbin refused: ${n2.error ?? n2.status}`);

    step("9. Policy deleted: both pass again");
    await Deno.writeTextFile(configPath, stringify(demoMesh()));
    await Promise.all(nodes.map((n) => n.waitForPolicy("ambient-demo/allow-sleep-to-httpbin", false)));
    const s3 = await httpViaSocks5(sleep.ip, "httpbin", 8000);
    const n3 = await httpViaSocks5(notsleep.ip, "httpbin", 8000);
    expect(
      s3.status === 200 && n3.status === 200,
      `sleep: ${s3.status ?? s3.error}, notsleep: ${n3.status ?? n3.error}`,
    );

    step("10. Drain: SIGTERM, GOAWAY, exit 0");
    for (const n of nodes.splice(0)) {
      const code = await n.stop();
      expect(code === 0, `${n.name} drained and exited with ${code}`);
    }
  } catch (e) {
    console.error(`demo failed: ${errorMessage(e)}`);
    failures++;
  } finally {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL").catch(() => 0)));
    await Promise.all(servers.map((s) => s.close()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(
    failures === 0
      ? "\ndemo complete: the mesh behaved as Istio's ambient L4 guide says"
      : `\n${failures} step(s) failed`,
  );
  return failures === 0 ? 0 : 1;
}
