/**
 * istio-cni's in-pod redirect rules (cni/pkg/iptables/iptables.go, expected text in its
 * testdata/default.golden and default_ipv6.golden) as pure data: the `iptables-restore --noflush` text
 * for IPv4 and IPv6, and the commands that install or remove it with the `ip rule` and `ip route` of
 * table 100. Every command is meant to run inside the pod's network namespace (see
 * rule_command.ts `inNetns`). Nothing here runs anything.
 *
 * What the rules do (nat REDIRECT, not TPROXY): the pod's outgoing TCP goes to 127.0.0.1:15001, incoming
 * TCP other than 15008 to <pod IP>:15006, DNS (UDP and TCP 53) to 15053 when DNS capture is on; packets
 * marked 0x539 (ztunnel's in-pod sockets) are never redirected; connections ztunnel opened to the app get
 * connmark 0x111, whose replies `fwmark 0x111/0xfff lookup 100` delivers locally to ztunnel's
 * spoofed-source socket; kubelet probes, SNATed on the node to 169.254.7.127, are not captured.
 *
 * A re-install removes what is installed (read from `iptables-save`, see {@link installedRules}) in
 * the same `iptables-restore` transaction that adds the new rules: `-N` of an existing chain would fail
 * and the built-in jumps would be appended twice, and because each table is swapped atomically the pod's
 * traffic is never out uncaptured in between (istio-cni drops it behind temporary guardrails instead).
 */
import { DNS_PORT, HBONE_PORT, INBOUND_PLAINTEXT_PORT, OUTBOUND_PORT } from "../config/ports.ts";
import { ZtError } from "../error.ts";
import { ipFamily } from "../state/ip.ts";
import type { PodOverrides } from "./pod_overrides.ts";
import type { RuleCommand } from "./rule_command.ts";

/** ztunnel's in-pod socket mark (PACKET_MARK 1337) under istio-cni's mask. */
export const INPOD_MARK = "0x539/0xfff";
/** The connmark of connections ztunnel opened to the app ("TProxy" mark). */
export const INPOD_TPROXY_MARK = "0x111/0xfff";
export const INPOD_RESTORE_MASK = "0xffffffff";
export const INPOD_ROUTE_TABLE = 100;
export const INPOD_RULE_PRIORITY = 32764;
export const PREROUTING_CHAIN = "ISTIO_PRERT";
export const OUTPUT_CHAIN = "ISTIO_OUTPUT";
/** istio-cni's HOST_PROBE_SNAT_IP / HOST_PROBE_SNAT_IPV6 defaults. */
export const HOST_PROBE_SNAT_IP = "169.254.7.127";
export const HOST_PROBE_SNAT_IPV6 = "fd16:9254:7127:1337:ffff:ffff:ffff:ffff";

/** istio-cni's node-wide settings. */
export interface InpodSettings {
  /** AMBIENT_DNS_CAPTURE (default true); a pod's dns-capture annotation overrides it. */
  readonly dnsCapture: boolean;
  /** AMBIENT_IPV6 (default true): ip6tables rules and the IPv6 ip rule and route. */
  readonly ipv6: boolean;
  readonly hostProbeSnatIp: string;
  readonly hostProbeSnatIpv6: string;
}

export const DEFAULT_INPOD_SETTINGS: InpodSettings = {
  dnsCapture: true,
  ipv6: true,
  hostProbeSnatIp: HOST_PROBE_SNAT_IP,
  hostProbeSnatIpv6: HOST_PROBE_SNAT_IPV6,
};

type Family = 4 | 6;
type Table = "mangle" | "nat" | "raw";

interface Rule {
  readonly table: Table;
  readonly chain: string;
  readonly args: readonly string[];
}

const BUILTIN = new Set([
  "INPUT",
  "OUTPUT",
  "FORWARD",
  "PREROUTING",
  "POSTROUTING",
  "ACCEPT",
  "RETURN",
  "DROP",
]);
const TABLES: readonly Table[] = ["mangle", "nat", "raw"];
const IFNAME = /^[A-Za-z0-9_.@:-]{1,15}$/;

/** Whether DNS is redirected for a pod: its annotation if it has one, else the node's setting. */
export function redirectsDns(settings: InpodSettings, overrides: PodOverrides): boolean {
  return overrides.dnsCapture ?? settings.dnsCapture;
}

/** The rules in istio-cni's order (AppendInpodRules); arguments hold no spaces (inputs are checked). */
function rules(family: Family, settings: InpodSettings, o: PodOverrides): Rule[] {
  const lo = family === 4 ? "127.0.0.1/32" : "::1/128";
  const probe = family === 4 ? settings.hostProbeSnatIp : settings.hostProbeSnatIpv6;
  const dns = redirectsDns(settings, o);
  const out: Rule[] = [];
  const add = (table: Table, chain: string, args: string) =>
    out.push({ table, chain, args: args.split(" ") });
  const unmarked = `-m mark ! --mark ${INPOD_MARK}`;
  const [PRERT, OUT] = [PREROUTING_CHAIN, OUTPUT_CHAIN];
  add("mangle", "PREROUTING", `-j ${PRERT}`);
  add("mangle", "OUTPUT", `-j ${OUT}`);
  add("nat", "OUTPUT", `-j ${OUT}`);
  if (dns) {
    add("raw", "PREROUTING", `-j ${PRERT}`);
    add("raw", "OUTPUT", `-j ${OUT}`);
  }
  add("nat", "PREROUTING", `-j ${PRERT}`);
  for (const dev of o.virtualInterfaces) {
    // Inbound TCP on a virtual interface (VMs, DinD) is the workload's outbound traffic.
    add("nat", PRERT, `-i ${dev} -p tcp -j REDIRECT --to-ports ${OUTBOUND_PORT}`);
    add("nat", PRERT, `-i ${dev} -p tcp -j RETURN`);
  }
  // ztunnel's marked packets to the app (over lo): remember the connection as ztunnel's.
  add("mangle", PRERT, `-m mark --mark ${INPOD_MARK} -j CONNMARK --set-xmark ${INPOD_TPROXY_MARK}`);
  // Kubelet probes (SNATed on the node) and their replies are not captured.
  if (!o.ingressMode) add("nat", PRERT, `-s ${probe} -p tcp -m tcp -j ACCEPT`);
  add("nat", OUT, `-d ${probe} -p tcp -m tcp -j ACCEPT`);
  // Inbound plaintext → 15006; 15008 reaches the HBONE listener as it is.
  if (!o.ingressMode) {
    add(
      "nat",
      PRERT,
      `! -d ${lo} -p tcp ! --dport ${HBONE_PORT} ${unmarked} -j REDIRECT --to-ports ${INBOUND_PLAINTEXT_PORT}`,
    );
  }
  // The app's packets on ztunnel's connections get mark 0x111: table 100 delivers them to ztunnel.
  const restore = `--restore-mark --nfmask ${INPOD_RESTORE_MASK} --ctmask ${INPOD_RESTORE_MASK}`;
  add("mangle", OUT, `-m connmark --mark ${INPOD_TPROXY_MARK} -j CONNMARK ${restore}`);
  if (dns) {
    add("nat", OUT, `! -o lo -p udp ${unmarked} -m udp --dport 53 -j REDIRECT --to-port ${DNS_PORT}`);
    add("nat", OUT, `! -d ${lo} -p tcp --dport 53 ${unmarked} -j REDIRECT --to-ports ${DNS_PORT}`);
    // ztunnel's upstream DNS flows in their own conntrack zone (istio/istio#33469).
    add("raw", OUT, `-p udp -m mark --mark ${INPOD_MARK} -m udp --dport 53 -j CT --zone 1`);
    add("raw", PRERT, `-p udp ${unmarked} -m udp --sport 53 -j CT --zone 1`);
  }
  add("nat", OUT, `-p tcp -m mark --mark ${INPOD_TPROXY_MARK} -j ACCEPT`);
  // The app to its own pod IP over lo, and ztunnel to the app, are not captured.
  add("nat", OUT, `! -d ${lo} -o lo -j ACCEPT`);
  // Outbound → 15001 (last).
  add("nat", OUT, `! -d ${lo} -p tcp ${unmarked} -j REDIRECT --to-ports ${OUTBOUND_PORT}`);
  return out;
}

/** What of the rule set one family's `iptables-save` shows: the jumps from built-ins, the chains. */
export interface InstalledRules {
  readonly jumps: ReadonlyArray<{ readonly table: string; readonly chain: string; readonly target: string }>;
  readonly chains: ReadonlyArray<{ readonly table: string; readonly chain: string }>;
}

export interface InstalledState {
  readonly v4: InstalledRules;
  readonly v6: InstalledRules;
}

export const NOTHING_INSTALLED: InstalledRules = { jumps: [], chains: [] };
export const NOTHING_INSTALLED_ANYWHERE: InstalledState = { v4: NOTHING_INSTALLED, v6: NOTHING_INSTALLED };

const OURS = new Set([PREROUTING_CHAIN, OUTPUT_CHAIN]);

/** Reads the rule set's jumps (each occurrence) and chains out of `iptables-save` output. Pure. */
export function installedRules(save: string): InstalledRules {
  const jumps: Array<InstalledRules["jumps"][number]> = [];
  const chains: Array<InstalledRules["chains"][number]> = [];
  let table = "";
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    if (!(TABLES as readonly string[]).includes(table)) continue;
    const decl = /^:(\S+) /.exec(line);
    if (decl && OURS.has(decl[1])) chains.push({ table, chain: decl[1] });
    const jump = /^-A (PREROUTING|OUTPUT) -j (\S+)$/.exec(line);
    if (jump && OURS.has(jump[2])) jumps.push({ table, chain: jump[1], target: jump[2] });
  }
  return { jumps, chains };
}

/** The lines that take the installed rule set out of `table`: jumps first, then flush, then delete. */
function deletions(table: string, installed: InstalledRules): string[] {
  const chains = installed.chains.filter((c) => c.table === table).map((c) => c.chain);
  return [
    ...installed.jumps.filter((j) => j.table === table).map((j) => `-D ${j.chain} -j ${j.target}`),
    ...chains.map((c) => `-F ${c}`),
    ...chains.map((c) => `-X ${c}`),
  ];
}

function renderTables(sections: ReadonlyMap<string, readonly string[]>): string {
  const lines: string[] = [];
  for (const table of [...sections.keys()].sort()) {
    const body = sections.get(table)!;
    if (body.length) lines.push(`* ${table}`, ...body, "COMMIT");
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}

/**
 * The `iptables-restore --noflush` (or `ip6tables-restore`) text, as istio-cni renders it: tables in
 * name order, each declaring its own chains (those with rules, in order of first rule, then chains
 * only jumped to), then its rules in order. What `installed` names is deleted first, in the same table
 * transaction (nothing installed: exactly istio-cni's text).
 */
export function inpodRestoreText(
  family: Family,
  settings: InpodSettings,
  overrides: PodOverrides,
  installed: InstalledRules = NOTHING_INSTALLED,
): string {
  checkInputs(settings, overrides);
  const all = rules(family, settings, overrides);
  const sections = new Map<string, string[]>(TABLES.map((t) => [t, deletions(t, installed)]));
  for (const table of TABLES) {
    const own = all.filter((r) => r.table === table);
    const chains = new Set<string>();
    for (const r of own) if (!BUILTIN.has(r.chain)) chains.add(r.chain);
    for (const r of own) {
      const target = r.args.at(-2) === "-j" ? r.args.at(-1)! : undefined;
      if (target !== undefined && !BUILTIN.has(target)) chains.add(target);
    }
    sections.get(table)!.push(
      ...[...chains].map((c) => `-N ${c}`),
      ...own.map((r) => `-A ${r.chain} ${r.args.join(" ")}`),
    );
  }
  return renderTables(sections);
}

/** The restore text taking the installed rule set out ("" when nothing is installed). */
export function inpodRemoveText(installed: InstalledRules): string {
  return renderTables(new Map(TABLES.map((t) => [t, deletions(t, installed)])));
}

const ip = (f: Family, ...args: string[]) => ["ip", `-${f}`, ...args];
const restore = (f: Family) => [f === 4 ? "iptables-restore" : "ip6tables-restore", "-w", "--noflush"];
const LO_IPV6_DISABLED = "/proc/sys/net/ipv6/conf/lo/disable_ipv6";

/** `ip rule` of table 100 (fwmark 0x111/0xfff, priority 32764). */
function markRule(f: Family, verb: "add" | "del"): string[] {
  return ip(
    f,
    ...`rule ${verb} fwmark ${INPOD_TPROXY_MARK} pref ${INPOD_RULE_PRIORITY} lookup ${INPOD_ROUTE_TABLE}`
      .split(" "),
  );
}

/** The local route of everything to `lo` in table 100. */
function loopbackRoute(f: Family, verb: "replace" | "del"): string[] {
  const all = f === 4 ? "0.0.0.0/0" : "::/0";
  return ip(f, ...`route ${verb} local ${all} dev lo table ${INPOD_ROUTE_TABLE}`.split(" "));
}

/**
 * Installs the pod's rule set (in the pod's namespace), in istio-cni's order: the loopback routes of
 * table 100 (IPv6 only when the pod's `lo` has IPv6), the ip rules, then one restore per family that
 * replaces what `installed` says is there. With IPv6 off, IPv6 rules an earlier install left are removed.
 */
export function inpodInstallCommands(
  settings: InpodSettings,
  overrides: PodOverrides,
  installed: InstalledState = NOTHING_INSTALLED_ANYWHERE,
): RuleCommand[] {
  const fams: Family[] = settings.ipv6 ? [4, 6] : [4];
  const commands: RuleCommand[] = [{ argv: loopbackRoute(4, "replace") }];
  if (settings.ipv6) {
    commands.push({ argv: loopbackRoute(6, "replace"), unless: ["grep", "-qx", "1", LO_IPV6_DISABLED] });
  }
  for (const f of fams) commands.push({ argv: markRule(f, "add"), tolerate: "File exists" });
  commands.push({ argv: restore(4), stdin: inpodRestoreText(4, settings, overrides, installed.v4) });
  if (settings.ipv6) {
    commands.push({ argv: restore(6), stdin: inpodRestoreText(6, settings, overrides, installed.v6) });
  } else {
    const leftover = inpodRemoveText(installed.v6);
    if (leftover) commands.push({ argv: restore(6), stdin: leftover });
  }
  return commands;
}

/**
 * Removes everything install adds: the installed rule set of both families (whatever the settings, so
 * an install made with other settings goes too), the ip rules and the routes, each harmless when absent.
 */
export function inpodRemoveCommands(installed: InstalledState = NOTHING_INSTALLED_ANYWHERE): RuleCommand[] {
  const gone =
    "No such file or directory|No such process|FIB table does not exist|Address family not supported";
  const commands: RuleCommand[] = [];
  for (const [f, rules] of [[4, installed.v4], [6, installed.v6]] as const) {
    const text = inpodRemoveText(rules);
    if (text) commands.push({ argv: restore(f), stdin: text });
  }
  return [
    ...commands,
    { argv: markRule(4, "del"), tolerate: gone },
    { argv: markRule(6, "del"), tolerate: gone },
    { argv: loopbackRoute(4, "del"), tolerate: gone },
    { argv: loopbackRoute(6, "del"), tolerate: gone },
  ];
}

/** Rules are built from config data: refuse anything that could change their meaning. */
function checkInputs(settings: InpodSettings, o: PodOverrides): void {
  if (ipFamily(settings.hostProbeSnatIp) !== 4) {
    throw new ZtError(
      "capture",
      `host probe SNAT address "${settings.hostProbeSnatIp}" is not an IPv4 address`,
    );
  }
  if (ipFamily(settings.hostProbeSnatIpv6) !== 6) {
    throw new ZtError(
      "capture",
      `host probe SNAT address "${settings.hostProbeSnatIpv6}" is not an IPv6 address`,
    );
  }
  for (const dev of o.virtualInterfaces) {
    if (!IFNAME.test(dev)) throw new ZtError("capture", `"${dev}" is not an interface name`);
  }
}
