/**
 * `zt redirect install|remove`: the part of istio-cni that zt needs on a node. Reads the mesh config,
 * selects this node's ambient pods (lib/state/ambient_selection.ts), finds each pod's veth from the
 * node's routing table, and runs the rule commands of lib/capture/redirect_rules.ts, or prints them
 * with --dry-run. Re-running install after a config change enables or disables capture for running
 * pods; nothing restarts. With --inpod, istio-cni's in-pod rules (lib/capture/inpod_rules.ts) go into
 * each ambient pod's own network namespace instead (the `netns:` of its local-config entry).
 */
import { parseArgs } from "node:util";
import { errorMessage, ZtError } from "../error.ts";
import { loadLocalConfig } from "../state/local_config.ts";
import { nodePodDecisions } from "../state/ambient_selection.ts";
import {
  type CapturedPod,
  formatCommand,
  installCommands,
  removeCommands,
  type RuleCommand,
} from "../capture/redirect_rules.ts";
import { type Exec, runCommands, systemExec } from "../capture/command_runner.ts";
import { selectInpodPods } from "../capture/inpod_pods.ts";
import { describePodTask, nodeInpodTasks, podCommands, type PodTask } from "../capture/inpod_plan.ts";
import { type InpodSettings, NOTHING_INSTALLED_ANYWHERE } from "../capture/inpod_rules.ts";
import { readInstalled } from "../capture/inpod_apply.ts";
import { inpodSettings } from "../capture/inpod_settings.ts";

export { type CommandResult, type Exec, runCommands, systemExec } from "../capture/command_runner.ts";

export const REDIRECT_HELP =
  `zt redirect install|remove [--dry-run] [--config PATH] [--node NAME] [--netns NS]
                          [--pod-interface-prefix PREFIX] [--exclude-namespaces a,b]
zt redirect install|remove --inpod [--dry-run] [--config PATH] [--node NAME]
                          [--dns-capture true|false] [--ipv6 true|false] [--exclude-namespaces a,b]

Installs (or removes) the packet rules that capture this node's ambient pods into zt (TPROXY to
15001 outbound, 15006 inbound plaintext, 15008 HBONE), in the node's network namespace. Run it as
root where zt runs, before \`ZT_CAPTURE=tproxy zt run\`, and again whenever pods or their labels change.
Install is idempotent; remove deletes every rule, chain, ip rule and route install added.
  --config   the mesh config (default $LOCAL_XDS_PATH); pods and namespace labels come from it
  --node     this node's name (default $NODE_NAME); only its pods are captured
  --dry-run  print the exact commands instead of running them
  --netns    run the commands in this network namespace (ip netns exec NS ...)
  --pod-interface-prefix  the node side of a pod's veth is PREFIX<pod name> (default: look the
             pod IP up in the routing table)
  --exclude-namespaces    namespaces never captured (istio-cni's excludeNamespaces)
A pod is captured when its namespace is labelled istio.io/dataplane-mode=ambient, it has no
sidecar.istio.io/status annotation and ambient.istio.io/redirection is not "disabled".
Needs: ip, iptables, iptables-restore, sysctl (iptables with TPROXY, socket, mark, comment).

--inpod: istio-cni's in-pod rules instead (nat REDIRECT to 15001/15006/15053 inside each pod, the
ip rule fwmark 0x111/0xfff lookup 100 and its local route), for \`zt run\` with PROXY_MODE=shared (see
\`zt cni\`). Each ambient pod of the node names its network namespace file in the config
(\`netns: /var/run/netns/sleep\`); install puts the rules in every captured pod and removes them from
the node's other pods with a netns; remove takes them out of all of them.
  --dns-capture  redirect DNS (UDP/TCP 53 → 15053) (default $AMBIENT_DNS_CAPTURE, else true); a pod's
             ambient.istio.io/dns-capture annotation overrides it
  --ipv6     ip6tables rules and the IPv6 ip rule/route too (default $AMBIENT_IPV6, else true)
A pod annotated ambient.istio.io/bypass-inbound-capture=true keeps its inbound traffic uncaptured.
Needs: nsenter, ip, iptables(-restore), ip6tables(-restore) (REDIRECT, mark, connmark, CT, comment).`;

/** The node side of the veth that routes to `ip`, from `ip -4 -o route get <ip>`. */
export async function podInterface(exec: Exec, ip: string): Promise<string> {
  const r = await exec(["ip", "-4", "-o", "route", "get", ip]);
  if (r.code !== 0) throw new ZtError("redirect", `no route to pod ${ip}: ${r.stderr.trim()}`);
  const dev = /\bdev (\S+)/.exec(r.stdout)?.[1];
  if (!dev || dev === "lo" || /\bvia\b/.test(r.stdout)) {
    throw new ZtError("redirect", `pod ${ip} is not behind a local veth (route: ${r.stdout.trim()})`);
  }
  return dev;
}

export interface RedirectPlan {
  readonly commands: RuleCommand[];
  readonly captured: CapturedPod[];
  /** "ns/name: reason" for every local pod left alone. */
  readonly skipped: string[];
}

/** Builds the install (or remove) plan for `node` from the config at `configPath`. */
export async function planRedirect(opts: {
  action: "install" | "remove";
  configPath: string;
  node: string;
  exec: Exec;
  podInterfacePrefix?: string;
  excludeNamespaces?: readonly string[];
}): Promise<RedirectPlan> {
  if (opts.action === "remove") return { commands: removeCommands(), captured: [], skipped: [] };
  const cfg = await loadLocalConfig(opts.configPath);
  const captured: CapturedPod[] = [];
  const skipped: string[] = [];
  for (const d of nodePodDecisions(cfg, opts.node, { excludeNamespaces: opts.excludeNamespaces })) {
    const who = `${d.pod.namespace}/${d.pod.name}`;
    if (!d.decision.captured || d.ip === undefined) {
      skipped.push(`${who}: ${d.decision.reason}`);
      continue;
    }
    const iface = opts.podInterfacePrefix !== undefined
      ? `${opts.podInterfacePrefix}${d.pod.name}`.slice(0, 15)
      : await podInterface(opts.exec, d.ip);
    captured.push({ namespace: d.pod.namespace, name: d.pod.name, ip: d.ip, iface });
  }
  return { commands: installCommands(captured), captured, skipped };
}

export interface InpodRedirectPlan {
  readonly tasks: PodTask[];
  /** "ns/name: reason" for every pod of the node not captured. */
  readonly skipped: string[];
}

/** The in-pod plan for `node`: what each pod with a netns needs (its rules installed, or removed). */
export async function planInpodRedirect(opts: {
  action: "install" | "remove";
  configPath: string;
  node: string;
  excludeNamespaces?: readonly string[];
}): Promise<InpodRedirectPlan> {
  const cfg = await loadLocalConfig(opts.configPath);
  const sel = selectInpodPods(cfg, opts.node, { excludeNamespaces: opts.excludeNamespaces });
  return { tasks: nodeInpodTasks(sel, opts.action), skipped: sel.skipped };
}

/**
 * Runs (or prints) each pod's commands, planned against what its namespace has now; a pod that fails
 * does not stop the others. A dry-run that cannot read a namespace prints the commands for a pod
 * without rules.
 */
async function inpodRedirect(
  plan: InpodRedirectPlan,
  settings: InpodSettings,
  dryRun: boolean,
  exec: Exec,
): Promise<number> {
  const say = dryRun
    ? (s: string) => console.log(`# ${s}`)
    : (s: string) => console.error(`zt redirect: ${s}`);
  for (const s of plan.skipped) say(`skip ${s}`);
  let failed = 0;
  for (const t of plan.tasks) {
    say(describePodTask(t, settings));
    try {
      let installed;
      try {
        installed = await readInstalled(exec, t.pod.netns);
      } catch (e) {
        if (!dryRun) throw e;
        say(`${errorMessage(e)}; commands as for a namespace without in-pod rules:`);
        installed = NOTHING_INSTALLED_ANYWHERE;
      }
      const cmds = podCommands(t, settings, installed);
      if (dryRun) { for (const c of cmds) console.log(formatCommand(c)); }
      else await runCommands(cmds, exec);
    } catch (e) {
      failed++;
      console.error(`zt redirect: ${t.pod.namespace}/${t.pod.name}: ${errorMessage(e)}`);
    }
  }
  if (!dryRun) say(`done: ${plan.tasks.length - failed} pod(s) done, ${failed} failed`);
  return failed ? 1 : 0;
}

export async function redirectCommand(args: string[], exec?: Exec): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        "dry-run": { type: "boolean" },
        config: { type: "string" },
        node: { type: "string" },
        netns: { type: "string" },
        "pod-interface-prefix": { type: "string" },
        "exclude-namespaces": { type: "string" },
        inpod: { type: "boolean" },
        "dns-capture": { type: "string" },
        ipv6: { type: "string" },
      },
    });
  } catch (e) {
    console.error(`zt redirect: ${errorMessage(e)}\n\n${REDIRECT_HELP}`);
    return 2;
  }
  const v = parsed.values;
  const action = parsed.positionals[0];
  if ((action !== "install" && action !== "remove") || parsed.positionals.length !== 1) {
    console.error(REDIRECT_HELP);
    return 2;
  }
  const configPath = v.config ?? Deno.env.get("LOCAL_XDS_PATH");
  const node = v.node ?? Deno.env.get("NODE_NAME");
  const excludeNamespaces = v["exclude-namespaces"]?.split(",").map((s) => s.trim()).filter(Boolean);
  if (v.inpod) {
    if (v.netns !== undefined || v["pod-interface-prefix"] !== undefined) {
      console.error(`zt redirect: --netns and --pod-interface-prefix do not apply to --inpod`);
      return 2;
    }
    if (!configPath || !node) {
      console.error(`zt redirect: --inpod needs --config (or LOCAL_XDS_PATH) and --node (or NODE_NAME)`);
      return 2;
    }
    let settings: InpodSettings;
    try {
      settings = inpodSettings({ dnsCapture: v["dns-capture"], ipv6: v.ipv6 }, Deno.env.toObject());
    } catch (e) {
      console.error(`zt redirect: ${errorMessage(e)}`);
      return 2;
    }
    try {
      const plan = await planInpodRedirect({ action, configPath, node, excludeNamespaces });
      return await inpodRedirect(plan, settings, v["dry-run"] === true, exec ?? systemExec());
    } catch (e) {
      console.error(`zt redirect: ${errorMessage(e)}`);
      return 1;
    }
  }
  if (v["dns-capture"] !== undefined || v.ipv6 !== undefined) {
    console.error(`zt redirect: --dns-capture and --ipv6 apply to --inpod only`);
    return 2;
  }
  if (action === "install" && (!configPath || !node)) {
    console.error(`zt redirect: install needs --config (or LOCAL_XDS_PATH) and --node (or NODE_NAME)`);
    return 2;
  }
  const run = exec ?? systemExec(v.netns);
  try {
    const plan = await planRedirect({
      action,
      configPath: configPath ?? "",
      node: node ?? "",
      exec: run,
      podInterfacePrefix: v["pod-interface-prefix"],
      excludeNamespaces,
    });
    const say = v["dry-run"]
      ? (s: string) => console.log(`# ${s}`)
      : (s: string) => console.error(`zt redirect: ${s}`);
    for (const p of plan.captured) say(`capture ${p.namespace}/${p.name} ${p.ip} via ${p.iface}`);
    for (const s of plan.skipped) say(`skip ${s}`);
    if (v["dry-run"]) {
      for (const c of plan.commands) console.log(formatCommand(c));
      return 0;
    }
    await runCommands(plan.commands, run);
    say(action === "install" ? `installed: ${plan.captured.length} pod(s) captured` : "removed");
    return 0;
  } catch (e) {
    console.error(`zt redirect: ${errorMessage(e)}`);
    return 1;
  }
}
