/**
 * The ambient guide's topology in network namespaces (for tests/integration/capture_test.ts):
 *
 *   node-a 10.250.0.1 ── nl0 ══ nl0 ── node-b 10.250.0.2        VIPs 10.96.250.0/24: unreachable
 *     pods 10.250.1.x/32 (gateway 10.250.1.1)                    pods 10.250.2.x/32 (gateway 10.250.2.1)
 *     sleep, notsleep, httpbin-1 (ambient-demo)                   httpbin-2 (ambient-demo)
 *     legacy = client-a/sleep (no mesh), side = client-b/sleep     web (client-a, not in the config)
 *
 * Each pod is a namespace with eth0 (its /32, default route via its node's gateway) whose peer is
 * `v-<short>` in the node. node-a emulates kube-proxy for the non-mesh pod only (a DNAT of the VIP on
 * v-legacy). Test counters on the node link count plaintext to/from the app port and HBONE packets.
 */
import { hasCommand, LineReader, type Netns } from "./netns.ts";
import { NODE_NAMES, type PodDef, PODS } from "./ambient_mesh.ts";

export interface NodeDef {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly gw: string;
  readonly podNet: string;
}

const POD_APP = new URL("./pod_app.ts", import.meta.url).pathname;
const VIP_NET = "10.96.250.0/24";
/** IPv4 only (capture is IPv4 only): no link-local addresses appearing late in the snapshots. */
const NO_IPV6 = { "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1" };

export class Topology {
  readonly nodes: readonly [NodeDef, NodeDef];
  readonly pods = PODS;
  readonly #podNs = new Map<string, string>();

  constructor(readonly netns: Netns) {
    this.nodes = [
      {
        name: NODE_NAMES[0],
        ns: netns.name("na"),
        ip: "10.250.0.1",
        gw: "10.250.1.1",
        podNet: "10.250.1.0/24",
      },
      {
        name: NODE_NAMES[1],
        ns: netns.name("nb"),
        ip: "10.250.0.2",
        gw: "10.250.2.1",
        podNet: "10.250.2.0/24",
      },
    ];
  }

  pod(short: string): PodDef {
    const p = PODS.find((x) => x.short === short);
    if (!p) throw new Error(`no pod ${short}`);
    return p;
  }

  async build(): Promise<void> {
    const n = this.netns;
    const [A, B] = this.nodes;
    const nodeSysctls = { ...NO_IPV6, "net.ipv4.ip_forward": "1", "net.ipv4.icmp_ratelimit": "0" };
    await n.add("na", nodeSysctls);
    await n.add("nb", nodeSysctls);
    await n.must(A.ns, ["ip", "link", "add", "nl0", "type", "veth", "peer", "name", "nl0", "netns", B.ns]);
    for (const [me, other] of [[A, B], [B, A]]) {
      await n.must(me.ns, ["ip", "addr", "add", `${me.ip}/24`, "dev", "nl0"]);
      await n.must(me.ns, ["ip", "link", "set", "nl0", "up"]);
      await n.must(me.ns, ["ip", "route", "add", other.podNet, "via", other.ip]);
      await n.must(me.ns, ["ip", "route", "add", "unreachable", VIP_NET]);
    }
    for (const p of PODS) await this.#addPod(p);
    // kube-proxy for the non-mesh client only: its VIP traffic goes to httpbin-2 unchanged by zt.
    await n.must(A.ns, [
      "iptables",
      "-t",
      "nat",
      "-A",
      "PREROUTING",
      "-i",
      "v-legacy",
      "-d",
      "10.96.250.10",
      "-p",
      "tcp",
      "--dport",
      "8000",
      "-j",
      "DNAT",
      "--to-destination",
      `${this.pod("httpbin-2").ip}:80`,
    ]);
    await n.must(A.ns, ["iptables-restore", "--noflush"], counterRules([["plain-from-app", "--sport 80"]]));
    await n.must(
      B.ns,
      ["iptables-restore", "--noflush"],
      counterRules([
        ["plain-to-app", "--dport 80"],
        ["hbone", "--dport 15008"],
      ]),
    );
    await Promise.all(PODS.filter((p) => p.serve).map((p) => this.#serve(p)));
  }

  async #addPod(p: PodDef): Promise<void> {
    const n = this.netns;
    const node = this.nodes[p.node];
    const ns = await n.add(p.short, NO_IPV6);
    this.#podNs.set(p.short, ns);
    const v = `v-${p.short}`;
    await n.podVeth(node.ns, v, ns);
    await n.must(node.ns, ["ip", "addr", "add", `${node.gw}/32`, "dev", v]);
    await n.must(node.ns, ["ip", "route", "add", `${p.ip}/32`, "dev", v, "src", node.gw]);
    await n.must(ns, ["ip", "addr", "add", `${p.ip}/32`, "dev", "eth0"]);
    await n.must(ns, ["ip", "link", "set", "eth0", "up"]);
    await n.must(ns, ["ip", "route", "add", node.gw, "dev", "eth0"]);
    await n.must(ns, ["ip", "route", "add", "default", "via", node.gw, "dev", "eth0"]);
  }

  async #serve(p: PodDef): Promise<void> {
    const child = this.netns.spawn(this.#ns(p.short), [
      Deno.execPath(),
      "run",
      "-A",
      POD_APP,
      "serve",
      p.name,
      String(p.serve),
    ]);
    child.stderr.cancel().catch(() => {});
    await new LineReader(child.stdout).waitFor((l) => l === "ready", 20_000);
  }

  #ns(short: string): string {
    const ns = this.#podNs.get(short);
    if (!ns) throw new Error(`no pod namespace ${short}`);
    return ns;
  }

  /** An unmodified client in pod `short`: curl if installed, else a plain TCP HTTP/1.0 client. */
  async httpGet(short: string, url: string): Promise<{ code: number; body: string }> {
    const argv = hasCommand("curl")
      ? ["curl", "-sS", "--max-time", "5", "--connect-timeout", "3", url]
      : [Deno.execPath(), "run", "-A", POD_APP, "get", url];
    const r = await this.netns.run(this.#ns(short), argv);
    return { code: r.code, body: r.stdout + r.stderr };
  }

  /** A sidecar-style client in pod `short`: its own certificate (ns/sa), HBONE straight to podIp:15008. */
  async hboneGet(short: string, caDir: string, ns: string, sa: string, podIp: string, port: number) {
    const r = await this.netns.run(this.#ns(short), [
      Deno.execPath(),
      "run",
      "-A",
      POD_APP,
      "hbone",
      caDir,
      ns,
      sa,
      podIp,
      String(port),
    ]);
    return { code: r.code, body: r.stdout + r.stderr };
  }

  /** Everything capture may touch in a node, normalised: iptables rules, ip rules, routes, the sysctl. */
  async snapshot(node: 0 | 1): Promise<string> {
    const ns = this.nodes[node].ns;
    const save = await this.netns.must(ns, ["iptables-save"]);
    const rules = await this.netns.must(ns, ["ip", "-4", "rule", "show"]);
    const routes = await this.netns.must(ns, ["ip", "-4", "route", "show", "table", "all"]);
    const sysctl = await this.netns.must(ns, ["sysctl", "net.ipv4.ip_nonlocal_bind"]);
    return [normalizeSave(save), rules, routes, sysctl].join("\n--\n");
  }

  async zeroCounters(): Promise<void> {
    for (const nd of this.nodes) await this.netns.must(nd.ns, ["iptables", "-t", "raw", "-Z", "ZTTEST"]);
  }

  /** Packets counted on the node link since the last zeroCounters. */
  async counters(): Promise<{ plainToApp: number; plainFromApp: number; hbone: number }> {
    const out = new Map<string, number>();
    for (const nd of this.nodes) {
      const save = await this.netns.must(nd.ns, ["iptables-save", "-c", "-t", "raw"]);
      for (const m of save.matchAll(/^\[(\d+):\d+\] -A ZTTEST .*--comment "?([a-z-]+)"?/gm)) {
        out.set(m[2], Number(m[1]));
      }
    }
    return {
      plainToApp: out.get("plain-to-app") ?? -1,
      plainFromApp: out.get("plain-from-app") ?? -1,
      hbone: out.get("hbone") ?? -1,
    };
  }
}

function counterRules(rules: Array<[string, string]>): string {
  return [
    "*raw",
    ":ZTTEST - [0:0]",
    "-A PREROUTING -j ZTTEST",
    ...rules.map(([name, match]) => `-A ZTTEST -i nl0 -p tcp -m tcp ${match} -m comment --comment ${name}`),
    "COMMIT",
    "",
  ].join("\n");
}

/** iptables-save without comments, counters, and tables that hold no rule and no chain of their own. */
export function normalizeSave(text: string): string {
  const tables: string[][] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    if (line.startsWith("*")) tables.push([]);
    tables.at(-1)?.push(line.replace(/\[\d+:\d+\]/g, "[0:0]"));
  }
  const builtin = /^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /;
  return tables
    .filter((t) => t.some((l) => l.startsWith("-A") || (l.startsWith(":") && !builtin.test(l))))
    .map((t) => t.join("\n"))
    .join("\n");
}
