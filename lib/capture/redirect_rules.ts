/**
 * The packet rules of transparent capture for one node, as pure data: which `sysctl`, `ip` and
 * `iptables` commands install them and which remove them. Nothing here runs anything
 * (lib/cli/redirect.ts does). The recipe is TPROXY in the node's network namespace:
 *
 * - a captured pod's new TCP connections, entering from its veth, go to zt's outbound listener (15001);
 * - new TCP connections to a captured pod go to its HBONE listener (dport 15008) or to zt's inbound
 *   plaintext listener (15006);
 * - packets of flows a transparent zt socket already owns are marked and delivered locally;
 * - zt's own connections to a local pod's :15008 (same-node HBONE) are looped through `lo`.
 *
 * zt's own traffic is never captured: it is locally originated, so it never passes PREROUTING, and the
 * only OUTPUT rule matches :15008 of local captured pods. Sockets marked 0x539 (istio-cni's and
 * ztunnel's mark) are exempt in both chains. Pods not captured have no rule at all.
 *
 * Install is idempotent: the chains' contents are replaced atomically (`iptables-restore --noflush`)
 * and hooks are added only when missing, so re-running it with a new pod list never opens a window
 * where captured pods go uncaptured. Remove deletes every rule, chain, route and ip rule it owns.
 */
import { ZtError } from "../error.ts";
import type { RuleCommand } from "./rule_command.ts";

export { formatCommand, type RuleCommand, shellQuote } from "./rule_command.ts";

export const CAPTURE_MARK = "0x400/0xfff";
/** istio-cni's / ztunnel's socket mark: traffic carrying it is never captured. */
export const SKIP_MARK = "0x539/0xfff";
export const ROUTE_TABLE = 100;
export const RULE_PREF = 100;
export const CAPTURE_PORTS = { outbound: 15001, inboundPlaintext: 15006, hbone: 15008 } as const;

/** zt's chains in the mangle table, in the order they are flushed and deleted. */
export const CHAINS = ["ZT_PREROUTING", "ZT_OUTPUT", "ZT_OUTBOUND", "ZT_INBOUND", "ZT_DIVERT"] as const;

/** A captured pod on this node: its IPv4 address and the node side of its veth. */
export interface CapturedPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly iface: string;
}

/** `-w`: wait for the xtables lock (legacy backends share it across namespaces); nft ignores it. */
const mangle = (...args: string[]) => ["iptables", "-w", "-t", "mangle", ...args];

/** The `iptables-restore --noflush` text that (re)defines zt's chains for `pods`. */
export function mangleRuleset(pods: readonly CapturedPod[]): string {
  const p = CAPTURE_PORTS;
  const tproxy = (port: number) => `-j TPROXY --on-port ${port} --tproxy-mark ${CAPTURE_MARK}`;
  const lines = [
    "*mangle",
    ...CHAINS.map((c) => `:${c} - [0:0]`),
    `-A ZT_DIVERT -j MARK --set-xmark ${CAPTURE_MARK}`,
    "-A ZT_DIVERT -j ACCEPT",
    `-A ZT_PREROUTING -m mark --mark ${SKIP_MARK} -j RETURN`,
    "-A ZT_PREROUTING -p tcp -m socket --transparent -j ZT_DIVERT",
    "-A ZT_PREROUTING -j ZT_OUTBOUND",
    "-A ZT_PREROUTING -j ZT_INBOUND",
    `-A ZT_OUTPUT -m mark --mark ${SKIP_MARK} -j RETURN`,
  ];
  for (const pod of sortPods(pods)) {
    const who = `-m comment --comment ${pod.namespace}/${pod.name}`;
    const ip = `${pod.ip}/32`;
    lines.push(
      `-A ZT_OUTBOUND -s ${ip} -i ${pod.iface} -p tcp -m tcp --syn ${who} ${tproxy(p.outbound)}`,
      `-A ZT_INBOUND -d ${ip} -p tcp -m tcp --dport ${p.hbone} --syn ${who} ${tproxy(p.hbone)}`,
      `-A ZT_INBOUND -d ${ip} -p tcp -m tcp --syn ${who} ${tproxy(p.inboundPlaintext)}`,
      `-A ZT_OUTPUT -d ${ip} -p tcp -m tcp --dport ${p.hbone} ${who} -j MARK --set-xmark ${CAPTURE_MARK}`,
    );
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** Commands that make the node's capture match `pods` exactly (run in order). */
export function installCommands(pods: readonly CapturedPod[]): RuleCommand[] {
  for (const pod of pods) checkPod(pod);
  const hook = (chain: string, target: string): RuleCommand => ({
    argv: mangle("-I", chain, "1", "-j", target),
    unless: mangle("-C", chain, "-j", target),
  });
  return [
    // Pod HBONE listeners bind the pods' IPs, which are not local to the node.
    { argv: ["sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1"] },
    {
      argv: ["ip", "-4", "route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table", String(ROUTE_TABLE)],
    },
    {
      argv: markRule("add"),
      tolerate: "File exists",
    },
    { argv: ["iptables-restore", "-w", "--noflush"], stdin: mangleRuleset(pods) },
    hook("PREROUTING", "ZT_PREROUTING"),
    hook("OUTPUT", "ZT_OUTPUT"),
  ];
}

/** `ip rule add|del` of the rule sending marked (captured) packets to zt's routing table. */
function markRule(verb: "add" | "del"): string[] {
  return [
    "ip",
    "-4",
    "rule",
    verb,
    "pref",
    String(RULE_PREF),
    "fwmark",
    CAPTURE_MARK,
    "lookup",
    String(ROUTE_TABLE),
  ];
}

/** Commands that remove everything install adds; harmless when nothing is installed. */
export function removeCommands(): RuleCommand[] {
  const unhook = (chain: string, target: string): RuleCommand => ({
    argv: mangle("-D", chain, "-j", target),
    onlyIf: mangle("-C", chain, "-j", target),
  });
  return [
    unhook("PREROUTING", "ZT_PREROUTING"),
    unhook("OUTPUT", "ZT_OUTPUT"),
    ...CHAINS.map((c): RuleCommand => ({ argv: mangle("-F", c), onlyIf: mangle("-S", c) })),
    ...CHAINS.map((c): RuleCommand => ({ argv: mangle("-X", c), onlyIf: mangle("-S", c) })),
    {
      argv: markRule("del"),
      tolerate: "No such file or directory",
    },
    {
      argv: ["ip", "-4", "route", "del", "local", "0.0.0.0/0", "dev", "lo", "table", String(ROUTE_TABLE)],
      tolerate: "No such process|FIB table does not exist",
    },
    { argv: ["sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=0"] },
  ];
}

function sortPods(pods: readonly CapturedPod[]): CapturedPod[] {
  return [...pods].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
}

const IFNAME = /^[A-Za-z0-9_.@:-]{1,15}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Rules are built from config data: refuse anything that could change their meaning. */
function checkPod(p: CapturedPod): void {
  if (!IPV4.test(p.ip)) {
    throw new ZtError("capture", `pod ${p.namespace}/${p.name}: "${p.ip}" is not an IPv4 address`);
  }
  if (!IFNAME.test(p.iface)) {
    throw new ZtError("capture", `pod ${p.namespace}/${p.name}: "${p.iface}" is not an interface name`);
  }
  if (!K8S_NAME.test(p.namespace) || !K8S_NAME.test(p.name)) {
    throw new ZtError("capture", `pod "${p.namespace}/${p.name}": not a Kubernetes name`);
  }
}
