/**
 * `zt redirect --inpod`: the plan and dry-run from a mesh config; and, as root, the rules really
 * installed in pod namespaces: accepted by iptables, idempotent, changed facts applied, rules taken out of
 * a pod that left the mesh, and remove leaving exactly what was there before (others' rules included).
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { type Exec, planInpodRedirect, redirectCommand } from "../../lib/cli/redirect.ts";
import { Netns, netnsSkipReason } from "../fakes/netns.ts";
import { normalizeSave } from "../fakes/ambient_topology.ts";

const NETNS_SKIP = await netnsSkipReason(["ip", "iptables", "ip6tables", "nsenter"]);

interface PodEntry {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly netns?: string;
  readonly annotations?: Record<string, string>;
}

async function writeConfig(path: string, pods: readonly PodEntry[]): Promise<void> {
  await Deno.writeTextFile(
    path,
    stringify({
      namespaces: [{ name: "ambient-demo", labels: { "istio.io/dataplane-mode": "ambient" } }, {
        name: "plain",
      }],
      workloads: pods.map((p) => ({
        name: p.name,
        namespace: p.namespace,
        workloadIps: [p.ip],
        protocol: "HBONE",
        node: "node-a",
        ...(p.netns ? { netns: p.netns } : {}),
        annotations: p.annotations ?? {},
      })),
    }),
  );
}

/** Captures console.log while `fn` runs. */
async function captureLog(fn: () => Promise<number>): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(...String(s).split("\n"));
  try {
    return { code: await fn(), lines };
  } finally {
    console.log = log;
  }
}

Deno.test("redirect --inpod: the plan and dry-run name each pod's namespace; nothing runs; bad flags refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zt-inpod-" });
  try {
    const path = `${dir}/mesh.yaml`;
    await writeConfig(path, [
      { name: "sleep", namespace: "ambient-demo", ip: "10.253.2.10", netns: "/var/run/netns/sleep" },
      { name: "nons", namespace: "ambient-demo", ip: "10.253.2.11" },
      { name: "old", namespace: "plain", ip: "10.253.2.12", netns: "/var/run/netns/old" },
    ]);
    const plan = await planInpodRedirect({ action: "install", configPath: path, node: "node-a" });
    assert.deepEqual(plan.tasks.map((t) => `${t.action} ${t.pod.name}`), ["install sleep", "remove old"]);
    assert.deepEqual(plan.skipped, [
      "ambient-demo/nons: no netns in the local config",
      "plain/old: namespace plain is not labelled istio.io/dataplane-mode=ambient",
    ]);
    const calls: string[] = [];
    const exec: Exec = (argv) => {
      calls.push(argv.join(" "));
      return Promise.resolve({ code: 0, stdout: "", stderr: "" });
    };
    const args = [
      "install",
      "--inpod",
      "--dry-run",
      "--config",
      path,
      "--node",
      "node-a",
      "--dns-capture",
      "false",
    ];
    const { code, lines } = await captureLog(() => redirectCommand(args, exec));
    assert.equal(code, 0);
    assert.deepEqual(calls, [
      "nsenter --net=/var/run/netns/sleep -- iptables-save",
      "nsenter --net=/var/run/netns/sleep -- ip6tables-save",
      "nsenter --net=/var/run/netns/old -- iptables-save",
      "nsenter --net=/var/run/netns/old -- ip6tables-save",
    ], "dry-run only reads each pod's rules");
    calls.length = 0;
    assert.ok(lines.includes(
      "# capture ambient-demo/sleep (netns /var/run/netns/sleep): dns capture off, inbound capture on, IPv4+IPv6",
    ));
    assert.ok(lines.includes("nsenter --net=/var/run/netns/sleep -- iptables-restore -w --noflush <<'EOF'"));
    assert.ok(lines.includes("# remove in-pod rules from plain/old (netns /var/run/netns/old)"));
    assert.ok(!lines.some((l) => l.includes("--dport 53")), "DNS capture off for every pod");
    assert.ok(
      lines.every((l) =>
        l.startsWith("#") || !l.startsWith("nsenter") || /--net=\/var\/run\/netns\//.test(l)
      ),
    );
    const refused = (a: string[]) => redirectCommand(a, exec);
    assert.equal(await refused(["install", "--inpod", "--config", path]), 2, "no node");
    assert.equal(await refused(["install", "--inpod", "--config", path, "--node", "n", "--netns", "x"]), 2);
    assert.equal(
      await refused(["install", "--inpod", "--config", path, "--node", "n", "--ipv6", "maybe"]),
      2,
    );
    assert.equal(await refused(["install", "--config", path, "--node", "n", "--dns-capture", "true"]), 2);
    assert.deepEqual(calls, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "redirect --inpod: installed in real pod namespaces twice is idempotent; remove restores the exact previous state",
  ignore: NETNS_SKIP !== undefined,
  sanitizeResources: false,
  fn: async () => {
    const netns = new Netns(`ztinpod-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-inpod-" });
    try {
      // sleep: IPv6 on its loopback (v6 route too); web: no IPv6 at all; old: not in the mesh.
      const sleep = await netns.add("sleep");
      const web = await netns.add("web", { "net.ipv6.conf.all.disable_ipv6": "1" });
      const old = await netns.add("old");
      const path = (ns: string) => `/var/run/netns/${ns}`;
      // Someone else's rules, which must survive untouched.
      await netns.must(sleep, [
        "iptables",
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-p",
        "udp",
        "--dport",
        "9",
        "-j",
        "ACCEPT",
      ]);
      await netns.must(sleep, ["iptables", "-t", "filter", "-A", "INPUT", "-p", "tcp", "-j", "DROP"]);
      await netns.must(sleep, ["ip6tables", "-t", "mangle", "-A", "PREROUTING", "-p", "udp", "-j", "ACCEPT"]);
      await netns.must(sleep, ["ip", "rule", "add", "fwmark", "0x7", "lookup", "7", "pref", "500"]);
      const snapshot = async (ns: string) =>
        [
          normalizeSave(await netns.must(ns, ["iptables-save"])),
          normalizeSave(await netns.must(ns, ["ip6tables-save"])),
          await netns.must(ns, ["ip", "-4", "rule"]),
          await netns.must(ns, ["ip", "-6", "rule"]),
          await netns.must(ns, ["ip", "-4", "route", "show", "table", "all"]),
          (await netns.run(ns, ["ip", "-6", "route", "show", "table", "all"])).stdout,
        ].join("--\n");
      const before = { sleep: await snapshot(sleep), web: await snapshot(web), old: await snapshot(old) };
      const config = `${dir}/mesh.yaml`;
      const pods = (annotations: Record<string, string> = {}, oldNs = "plain"): PodEntry[] => [
        { name: "sleep", namespace: "ambient-demo", ip: "10.253.3.10", netns: path(sleep), annotations },
        { name: "web", namespace: "ambient-demo", ip: "10.253.3.11", netns: path(web) },
        { name: "old", namespace: oldNs, ip: "10.253.3.12", netns: path(old) },
      ];
      await writeConfig(config, pods());
      const zt = (action: string) =>
        redirectCommand([action, "--inpod", "--config", config, "--node", "node-a"]);

      assert.equal(await zt("install"), 0);
      const installed = { sleep: await snapshot(sleep), web: await snapshot(web) };
      for (const s of Object.values(installed)) {
        assert.match(s, /^-A OUTPUT -j ISTIO_OUTPUT$/m);
        assert.match(
          s,
          /^-A ISTIO_OUTPUT ! -d 127\.0\.0\.1\/32 -p tcp -m mark ! --mark 0x539\/0xfff -j REDIRECT --to-ports 15001$/m,
        );
        assert.match(
          s,
          /^-A ISTIO_OUTPUT ! -d ::1\/128 -p tcp -m mark ! --mark 0x539\/0xfff -j REDIRECT --to-ports 15001$/m,
        );
        assert.match(
          s,
          /^-A ISTIO_OUTPUT -p udp -m mark --mark 0x539\/0xfff -m udp --dport 53 -j CT --zone 1$/m,
        );
        assert.match(s, /^32764:\sfrom all fwmark 0x111\/0xfff lookup 100$/m);
        assert.match(s, /^local default dev lo table 100 scope host $/m);
        assert.doesNotMatch(s, /zt-inpod-guardrail/);
      }
      assert.match(installed.sleep, /^local default dev lo table 100 metric 1024 pref medium$/m, "v6 route");
      assert.match(
        installed.sleep,
        /^-A OUTPUT -p udp -m udp --dport 9 -j ACCEPT\n-A OUTPUT -j ISTIO_OUTPUT$/m,
      );
      assert.doesNotMatch(
        installed.web,
        /^local default dev lo table 100 metric/m,
        "no v6 route without v6 on lo",
      );
      assert.equal(await snapshot(old), before.old, "a pod outside the mesh is left as it was");

      assert.equal(await zt("install"), 0);
      assert.equal(await snapshot(sleep), installed.sleep, "a second install changes nothing");
      assert.equal(await snapshot(web), installed.web);

      // New facts: DNS capture off for sleep, and old joins the mesh; then old leaves it again.
      await writeConfig(config, pods({ "ambient.istio.io/dns-capture": "false" }, "ambient-demo"));
      assert.equal(await zt("install"), 0);
      const noDns = await snapshot(sleep);
      assert.doesNotMatch(noDns, /--dport 53|CT --zone/);
      assert.equal(
        noDns.match(/^-A OUTPUT -j ISTIO_OUTPUT$/gm)?.length,
        4,
        "one jump in mangle and nat OUTPUT per family, not appended again (raw has none without DNS)",
      );
      assert.match(await snapshot(old), /ISTIO_PRERT/);
      await writeConfig(config, pods());
      assert.equal(await zt("install"), 0);
      assert.equal(await snapshot(sleep), installed.sleep);
      assert.equal(
        await snapshot(old),
        before.old,
        "install takes the rules out of a pod that left the mesh",
      );

      assert.equal(await zt("remove"), 0);
      assert.equal(await snapshot(sleep), before.sleep);
      assert.equal(await snapshot(web), before.web);
      assert.equal(await zt("remove"), 0, "remove is harmless when nothing is installed");
      assert.equal(await snapshot(sleep), before.sleep);
      assert.equal(await snapshot(old), before.old);
    } finally {
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
