/**
 * Acting on one pod's namespace: reading what of istio-cni's rule set is installed there (`iptables-save`
 * and `ip6tables-save` inside it), and running a task's commands (lib/capture/inpod_plan.ts) against that.
 */
import { ZtError } from "../error.ts";
import { type Exec, runCommands } from "./command_runner.ts";
import { type InpodSettings, installedRules, type InstalledState, NOTHING_INSTALLED } from "./inpod_rules.ts";
import { podCommands, type PodTask } from "./inpod_plan.ts";
import { nsenterArgv, type RuleCommand } from "./rule_command.ts";

/**
 * The rule set installed in the namespace at `netnsPath`. IPv4 must be readable (else ZtError
 * "redirect": the namespace is gone, or not one); IPv6 counts as empty where ip6tables cannot run.
 */
export async function readInstalled(exec: Exec, netnsPath: string): Promise<InstalledState> {
  const v4 = await exec(nsenterArgv(netnsPath, ["iptables-save"]));
  if (v4.code !== 0) {
    throw new ZtError(
      "redirect",
      `cannot read the rules in ${netnsPath}: ${v4.stderr.trim() || `exit ${v4.code}`}`,
    );
  }
  const v6 = await exec(nsenterArgv(netnsPath, ["ip6tables-save"]));
  return { v4: installedRules(v4.stdout), v6: v6.code === 0 ? installedRules(v6.stdout) : NOTHING_INSTALLED };
}

/** Reads the pod's namespace, plans the task against it and runs it; returns the commands run. */
export async function applyPodTask(
  task: PodTask,
  settings: InpodSettings,
  exec: Exec,
): Promise<RuleCommand[]> {
  const cmds = podCommands(task, settings, await readInstalled(exec, task.pod.netns));
  await runCommands(cmds, exec);
  return cmds;
}
