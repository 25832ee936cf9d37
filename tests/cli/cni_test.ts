/**
 * `zt cni` as a real process (root, pod namespaces) against zt's own ZDS client (WorkloadManager with a
 * recording launcher): the config's ambient pods get their rules and arrive as Adds with their netns and
 * WorkloadInfo; leftovers in an uncaptured pod are cleared; editing the config removes a pod (rules out,
 * Del), adds one (rules in, Add), relabels one (rules replaced, no new Add) and opts one out; a pod
 * whose netns is not one is refused and logged, not enrolled; SIGTERM removes every rule and the socket. Also the CLI's refusals, without root.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { cniCommand } from "../../lib/cli/cni.ts";
import { LineReader, Netns, netnsSkipReason } from "../fakes/netns.ts";
import { normalizeSave } from "../fakes/ambient_topology.ts";
import { managerRig, until } from "../inpod/zds_fixture.ts";

const NETNS_SKIP = await netnsSkipReason(["ip", "iptables", "ip6tables", "nsenter"]);
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const uid = (ns: string, name: string) => `Kubernetes//Pod/${ns}/${name}`;

async function eventually(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("zt cni: refuses to start without a config and a node, or with a bad setting", async () => {
  const err = console.error;
  console.error = () => {};
  try {
    assert.equal(await cniCommand([]), 2);
    assert.equal(await cniCommand(["--config", "/nonexistent.yaml"]), 2);
    assert.equal(await cniCommand(["--config", "/x.yaml", "--node", "n", "--ipv6", "maybe"]), 2);
    assert.equal(await cniCommand(["--frobnicate"]), 2);
  } finally {
    console.error = err;
  }
});

interface Pod {
  readonly name: string;
  readonly namespace: string;
  readonly netns: string;
  readonly annotations?: Record<string, string>;
}

let ip = 10;
async function writeConfig(path: string, pods: readonly Pod[]): Promise<void> {
  const text = stringify({
    namespaces: [{ name: "ambient-demo", labels: { "istio.io/dataplane-mode": "ambient" } }, {
      name: "plain",
    }],
    workloads: pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      serviceAccount: `${p.name}-sa`,
      workloadIps: [`10.253.7.${ip++}`],
      protocol: "HBONE",
      node: "node-a",
      netns: p.netns,
      annotations: p.annotations ?? {},
    })),
  });
  // Replaced by rename, as editors and ConfigMap updates do.
  await Deno.writeTextFile(`${path}.tmp`, text);
  await Deno.rename(`${path}.tmp`, path);
}

Deno.test({
  name:
    "zt cni: rules and Adds for the config's pods, Del when a pod leaves, relabels followed, SIGTERM cleans up",
  ignore: NETNS_SKIP !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const netns = new Netns(`ztcni-${Deno.pid}`);
    await netns.removeStale();
    const dir = await Deno.makeTempDir({ prefix: "zt-cni-" });
    const uds = `${dir}/ztunnel.sock`;
    const rig = managerRig({ path: uds, dial: undefined, retryMs: 60_000 });
    let child: Deno.ChildProcess | undefined;
    try {
      const ns: Record<string, string> = {};
      for (const short of ["sleep", "web", "old", "late"]) ns[short] = await netns.add(short);
      const path = (short: string) => `/var/run/netns/${ns[short]}`;
      const snapshot = async (short: string) =>
        [
          normalizeSave(await netns.must(ns[short], ["iptables-save"])),
          normalizeSave(await netns.must(ns[short], ["ip6tables-save"])),
          await netns.must(ns[short], ["ip", "-4", "rule"]),
          await netns.must(ns[short], ["ip", "-4", "route", "show", "table", "all"]),
        ].join("--\n");
      const before: Record<string, string> = {};
      for (const short of Object.keys(ns)) before[short] = await snapshot(short);
      // A leftover of an earlier run in a pod that is no longer captured.
      await netns.must(ns.old, ["iptables", "-t", "nat", "-N", "ISTIO_OUTPUT"]);
      await netns.must(ns.old, ["iptables", "-t", "nat", "-A", "OUTPUT", "-j", "ISTIO_OUTPUT"]);

      const config = `${dir}/mesh.yaml`;
      const sleep: Pod = { name: "sleep", namespace: "ambient-demo", netns: path("sleep") };
      const web: Pod = { name: "web", namespace: "ambient-demo", netns: path("web") };
      const old: Pod = { name: "old", namespace: "plain", netns: path("old") };
      const late: Pod = { name: "late", namespace: "ambient-demo", netns: path("late") };
      // Hostile input: a "netns" that is a plain file. Refused, logged, counted; the others are served.
      const bogus: Pod = { name: "bogus", namespace: "ambient-demo", netns: `${dir}/not-a-netns` };
      await Deno.writeTextFile(bogus.netns, "");
      await writeConfig(config, [sleep, web, old, bogus]);

      child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MAIN,
          "cni",
          "--config",
          config,
          "--node",
          "node-a",
          "--uds",
          uds,
          "--ipv6",
          "false",
        ],
        env: { RUST_LOG: "info" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const [logs, tee] = child.stderr.tee();
      const all: string[] = [];
      (async () => {
        for await (const chunk of tee.pipeThrough(new TextDecoderStream())) all.push(chunk);
      })();
      const log = new LineReader(logs);
      await log.waitFor((l) => l.includes("cni agent ready"), 30_000).catch((e) => {
        throw new Error(`${e.message}\n${all.join("")}`);
      });
      assert.equal(await snapshot("old"), before.old, "the leftover in an uncaptured pod is gone");
      assert.match(all.join(""), /failed to install in-pod rules.*ambient-demo\/bogus/);
      for (const p of ["sleep", "web"]) {
        assert.match(
          await snapshot(p),
          /-m udp --dport 53 -j REDIRECT --to-ports 15053/,
        );
      }

      // zt's ZDS client: the snapshot carries both pods, each with its own namespace.
      rig.manager.start();
      await until(() => rig.manager.ready, 10_000, "the snapshot");
      assert.deepEqual(rig.launcher.live(), [uid("ambient-demo", "sleep"), uid("ambient-demo", "web")]);
      const ino = (short: string) => BigInt(Deno.statSync(path(short)).ino!);
      for (const p of rig.launcher.started) assert.equal(p.netnsId.ino, ino(p.uid.split("/").at(-1)!));
      assert.deepEqual(
        (rig.manager.workloadState() as Record<string, { info: unknown }>)[uid("ambient-demo", "sleep")].info,
        { name: "sleep", namespace: "ambient-demo", serviceAccount: "sleep-sa" },
      );

      // web leaves, late arrives, sleep is relabelled (DNS capture off).
      await writeConfig(config, [
        { ...sleep, annotations: { "ambient.istio.io/dns-capture": "false" } },
        old,
        late,
      ]);
      await until(
        () =>
          rig.launcher.live().join() === [uid("ambient-demo", "late"), uid("ambient-demo", "sleep")].join(),
        10_000,
        "Del of web and Add of late",
      );
      assert.deepEqual(rig.launcher.started.find((p) => p.uid.endsWith("/web"))!.stops, ["immediate"]);
      assert.equal(await snapshot("web"), before.web, "web's rules removed before its Del");
      assert.match(await snapshot("late"), /ISTIO_PRERT/, "late's rules installed before its Add");
      await eventually(
        async () => !/--dport 53/.test(await snapshot("sleep")),
        5000,
        "sleep without DNS capture",
      );
      const adds = all.join("").split("\n").filter((l) => l.includes("sending pod add to ztunnel"));
      assert.ok(adds.some((l) => l.includes(uid("ambient-demo", "late"))), adds.join("\n"));
      assert.ok(!adds.some((l) => l.includes(uid("ambient-demo", "sleep"))), "a relabel sends no Add");
      assert.equal(rig.launcher.started.filter((p) => p.uid.endsWith("/sleep")).length, 1);

      // late opts out of redirection: Del, rules out.
      await writeConfig(config, [sleep, old, {
        ...late,
        annotations: { "ambient.istio.io/redirection": "disabled" },
      }]);
      await until(() => rig.launcher.live().join() === uid("ambient-demo", "sleep"), 10_000, "Del of late");
      await eventually(async () => (await snapshot("late")) === before.late, 5000, "late's rules removed");

      // SIGTERM: every rule and the socket go; the process ends cleanly.
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0, all.join(""));
      child = undefined;
      for (const short of Object.keys(ns)) {
        assert.equal(await snapshot(short), before[short], `${short} restored`);
      }
      assert.throws(() => Deno.statSync(uds), Deno.errors.NotFound);
      assert.ok(all.join("").includes("cni agent stopped"));
    } finally {
      if (child) {
        child.kill("SIGKILL");
        await child.status;
      }
      await rig.close();
      await netns.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
