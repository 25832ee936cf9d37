/**
 * `zt redirect`: the runner's probe/tolerate semantics with a recording exec, the plan from a mesh config,
 * the CLI's dry-run output; and, as root, the rules really installed in a fresh namespace: accepted by the
 * kernel, idempotent, and removed without a trace.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import {
  type Exec,
  planRedirect,
  podInterface,
  redirectCommand,
  runCommands,
} from "../../lib/cli/redirect.ts";
import { ZtError } from "../../lib/error.ts";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { normalizeSave } from "../fakes/ambient_topology.ts";

const NETNS_SKIP = await netnsSkipReason();

/** An exec that records argv and answers from a table (default: success). */
function fakeExec(answers: Record<string, { code: number; stderr?: string; stdout?: string }> = {}) {
  const calls: string[] = [];
  const exec: Exec = (argv) => {
    const key = argv.join(" ");
    calls.push(key);
    const a = answers[key] ?? { code: 0 };
    return Promise.resolve({ code: a.code, stdout: a.stdout ?? "", stderr: a.stderr ?? "" });
  };
  return { exec, calls };
}

Deno.test("redirect runner: probes decide, tolerated failures pass, other failures stop with a typed error", async () => {
  const { exec, calls } = fakeExec({
    "probe-present": { code: 0 },
    "probe-absent": { code: 1 },
    "add-again": { code: 2, stderr: "RTNETLINK answers: File exists" },
    "broken": { code: 4, stderr: "iptables: No chain/target/match by that name." },
  });
  const ran = await runCommands([
    { argv: ["insert-a"], unless: ["probe-present"] },
    { argv: ["insert-b"], unless: ["probe-absent"] },
    { argv: ["delete-a"], onlyIf: ["probe-present"] },
    { argv: ["delete-b"], onlyIf: ["probe-absent"] },
    { argv: ["add-again"], tolerate: "File exists" },
  ], exec);
  assert.equal(ran, 3);
  assert.deepEqual(calls, [
    "probe-present",
    "probe-absent",
    "insert-b",
    "probe-present",
    "delete-a",
    "probe-absent",
    "add-again",
  ]);
  await assert.rejects(
    runCommands([{ argv: ["broken"] }, { argv: ["never"] }], exec),
    (e) =>
      e instanceof ZtError && e.kind === "redirect" &&
      /broken failed \(exit 4\): iptables: No chain/.test(e.message),
  );
  assert.ok(!calls.includes("never"));
});

Deno.test("redirect: a pod's veth comes from the node's route to it; a route via a gateway is refused", async () => {
  const { exec } = fakeExec({
    "ip -4 -o route get 10.250.1.10": {
      code: 0,
      stdout: "10.250.1.10 dev v-sleep src 10.250.1.1 uid 0 \\    cache \n",
    },
    "ip -4 -o route get 10.250.2.12": {
      code: 0,
      stdout: "10.250.2.12 via 10.250.0.2 dev nl0 src 10.250.0.1 uid 0 \n",
    },
  });
  assert.equal(await podInterface(exec, "10.250.1.10"), "v-sleep");
  await assert.rejects(podInterface(exec, "10.250.2.12"), /not behind a local veth/);
});

async function writeConfig(dir: string): Promise<string> {
  const pod = (name: string, namespace: string, ip: string, node: string, annotations = {}) => ({
    uid: `Kubernetes//Pod/${namespace}/${name}`,
    name,
    namespace,
    workloadIps: [ip],
    protocol: "HBONE",
    node,
    annotations,
  });
  const path = `${dir}/mesh.yaml`;
  await Deno.writeTextFile(
    path,
    stringify({
      namespaces: [{ name: "ambient-demo", labels: { "istio.io/dataplane-mode": "ambient" } }, {
        name: "client-a",
      }],
      workloads: [
        pod("sleep", "ambient-demo", "10.252.1.10", "node-a"),
        pod("off", "ambient-demo", "10.252.1.11", "node-a", { "ambient.istio.io/redirection": "disabled" }),
        pod("legacy", "client-a", "10.252.1.12", "node-a"),
        pod("httpbin-2", "ambient-demo", "10.252.2.12", "node-b"),
      ],
    }),
  );
  return path;
}

Deno.test("redirect: the plan captures this node's ambient pods only and says why the others are left alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-redirect-" });
  try {
    const configPath = await writeConfig(dir);
    const { exec, calls } = fakeExec();
    const plan = await planRedirect({
      action: "install",
      configPath,
      node: "node-a",
      exec,
      podInterfacePrefix: "v-",
    });
    assert.deepEqual(plan.captured, [{
      namespace: "ambient-demo",
      name: "sleep",
      ip: "10.252.1.10",
      iface: "v-sleep",
    }]);
    assert.deepEqual(plan.skipped, [
      "ambient-demo/off: ambient.istio.io/redirection is disabled",
      "client-a/legacy: namespace client-a is not labelled istio.io/dataplane-mode=ambient",
    ]);
    assert.deepEqual(calls, [], "with an interface prefix nothing is looked up");
    const lines: string[] = [];
    const log = console.log;
    console.log = (s: string) => lines.push(s);
    let code;
    try {
      code = await redirectCommand([
        "install",
        "--dry-run",
        "--config",
        configPath,
        "--node",
        "node-a",
        "--pod-interface-prefix",
        "v-",
      ], exec);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0);
    assert.equal(lines[0], "# capture ambient-demo/sleep 10.252.1.10 via v-sleep");
    assert.ok(
      lines.some((l) => l.includes("-A ZT_OUTBOUND -s 10.252.1.10/32 -i v-sleep -p tcp -m tcp --syn")),
    );
    assert.ok(
      !lines.some((l) => /10\.252\.1\.1[12]|10\.252\.2\./.test(l)),
      "rules for pods not captured here",
    );
    assert.deepEqual(calls, [], "dry-run executed something");
    assert.equal(await redirectCommand(["frobnicate"], exec), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "redirect: install in a real namespace twice is idempotent; remove leaves exactly what was there",
  ignore: NETNS_SKIP !== undefined,
  sanitizeResources: false,
  fn: async () => {
    const netns = new Netns(`ztredir-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-redirect-" });
    try {
      const node = await netns.add("node", { "net.ipv6.conf.all.disable_ipv6": "1" });
      const pod = await netns.add("pod", { "net.ipv6.conf.all.disable_ipv6": "1" });
      await netns.podVeth(node, "v-sleep", pod);
      await netns.must(node, ["ip", "route", "add", "10.252.1.10/32", "dev", "v-sleep"]);
      // Someone else's rules, which must survive untouched.
      await netns.must(node, ["iptables", "-t", "mangle", "-A", "PREROUTING", "-p", "udp", "-j", "ACCEPT"]);
      const snapshot = async () =>
        [
          normalizeSave(await netns.must(node, ["iptables-save"])),
          await netns.must(node, ["ip", "-4", "rule"]),
          await netns.must(node, ["ip", "-4", "route", "show", "table", "all"]),
          await netns.must(node, ["sysctl", "net.ipv4.ip_nonlocal_bind"]),
        ].join("--\n");
      const before = await snapshot();
      const configPath = await writeConfig(dir);
      const zt = (action: string) =>
        redirectCommand([action, "--config", configPath, "--node", "node-a", "--netns", node]);
      assert.equal(await zt("install"), 0);
      const installed = await snapshot();
      assert.match(
        installed,
        /-A ZT_OUTBOUND -s 10\.252\.1\.10\/32 -i v-sleep -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m comment --comment "ambient-demo\/sleep" -j TPROXY --on-port 15001 --on-ip 0\.0\.0\.0 --tproxy-mark 0x400\/0xfff/,
      );
      assert.match(installed, /^-A PREROUTING -j ZT_PREROUTING\n-A PREROUTING -p udp -j ACCEPT$/m);
      assert.match(installed, /fwmark 0x400\/0xfff lookup 100/);
      assert.match(installed, /ip_nonlocal_bind = 1/);
      assert.equal(await zt("install"), 0);
      assert.equal(await snapshot(), installed);
      assert.equal(await zt("remove"), 0);
      assert.equal(await snapshot(), before);
      assert.equal(await zt("remove"), 0);
      assert.equal(await snapshot(), before);
    } finally {
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
