/**
 * The commands for a node's pods in in-pod mode: what each pod needs (its rule set installed, or
 * removed) and, given what its namespace has now, the exact commands, moved into the pod's network
 * namespace with nsenter. `install` makes the node match the selection: rules in every captured pod,
 * none in the node's other pods (see inpod_pods.ts). Pure.
 */
import {
  inpodInstallCommands,
  inpodRemoveCommands,
  type InpodSettings,
  type InstalledState,
  redirectsDns,
} from "./inpod_rules.ts";
import type { InpodPod, InpodSelection } from "./inpod_pods.ts";
import { inNetns, type RuleCommand } from "./rule_command.ts";

export type PodAction = "install" | "remove";

export interface PodTask {
  readonly pod: InpodPod;
  readonly action: PodAction;
}

/** install: captured pods get the rules, the others lose them; remove: every pod loses them. */
export function nodeInpodTasks(sel: InpodSelection, action: PodAction): PodTask[] {
  const remove = (pod: InpodPod): PodTask => ({ pod, action: "remove" });
  if (action === "remove") return [...sel.captured, ...sel.uncaptured].map(remove);
  return [...sel.captured.map((pod): PodTask => ({ pod, action: "install" })), ...sel.uncaptured.map(remove)];
}

/** The task's commands, in the pod's namespace, given what is installed there now. */
export function podCommands(
  task: PodTask,
  settings: InpodSettings,
  installed: InstalledState,
): RuleCommand[] {
  const cmds = task.action === "install"
    ? inpodInstallCommands(settings, task.pod.overrides, installed)
    : inpodRemoveCommands(installed);
  return cmds.map((c) => inNetns(task.pod.netns, c));
}

/** One line about a pod's task, for logs and `--dry-run`. */
export function describePodTask(t: PodTask, settings: InpodSettings): string {
  const who = `${t.pod.namespace}/${t.pod.name} (netns ${t.pod.netns})`;
  if (t.action === "remove") return `remove in-pod rules from ${who}`;
  const o = t.pod.overrides;
  const traits = [
    `dns capture ${redirectsDns(settings, o) ? "on" : "off"}`,
    `inbound capture ${o.ingressMode ? "off" : "on"}`,
    ...(o.virtualInterfaces.length ? [`virtual interfaces ${o.virtualInterfaces.join(",")}`] : []),
    settings.ipv6 ? "IPv4+IPv6" : "IPv4 only",
  ];
  return `capture ${who}: ${traits.join(", ")}`;
}
