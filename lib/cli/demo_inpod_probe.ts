/**
 * Can the in-pod demo run here? Linux, the permissions it needs, root, the tools (iproute2, iptables,
 * nsenter, sysctl), a real `ip netns add` probe, and its namespace names free (or left by a dead demo,
 * which the next run removes). Undefined when it can; else one short reason ("in-pod mode needs root").
 */
import { type Exec, systemExec } from "../capture/command_runner.ts";
import { DEMO_LOCK, lockHolderAlive, parseNetnsList, readDemoLock } from "./demo_netns.ts";

/** What the in-pod demo runs: namespaces and veths, istio-cni's rules (via nsenter), sysctls. */
export const INPOD_TOOLS = ["ip", "iptables-restore", "iptables-save", "nsenter", "sysctl"] as const;

/** `bin` is an executable file in a $PATH directory. */
export function onPath(bin: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const st = Deno.statSync(`${dir}/${bin}`);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch { /* not here */ }
  }
  return false;
}

const PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "sys", kind: "uid" },
  { name: "run" },
  { name: "ffi" },
  { name: "write", path: "/etc/netns" },
  { name: "write", path: "/var/run" },
  { name: "read", path: "/var/run/netns" },
  { name: "read", path: "/proc" },
];

export async function inpodBlocker(
  namespaces: readonly string[],
  exec: Exec = systemExec(),
  lockPath = DEMO_LOCK,
): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "in-pod mode needs Linux (network namespaces)";
  if (PERMISSIONS.some((p) => Deno.permissions.querySync(p).state !== "granted")) {
    return "in-pod mode needs all permissions (deno task demo, or deno run -A main.ts demo)";
  }
  if (Deno.uid() !== 0) return "in-pod mode needs root";
  const missing = INPOD_TOOLS.filter((t) => !onPath(t));
  if (missing.length) return `in-pod mode needs ${missing.join(", ")} on PATH`;
  const probe = `zt-demo-probe-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const added = await exec(["ip", "netns", "add", probe]);
  if (added.code !== 0) {
    return `in-pod mode cannot create a network namespace (${added.stderr.trim() || `exit ${added.code}`})`;
  }
  await exec(["ip", "netns", "del", probe]);
  const list = await exec(["ip", "netns", "list"]);
  const taken = parseNetnsList(list.stdout).filter((n) => namespaces.includes(n));
  if (taken.length === 0) return undefined;
  const lock = await readDemoLock(lockPath);
  if (lock && lockHolderAlive(lock)) return `another zt demo (pid ${lock.pid}) is running in in-pod mode`;
  const foreign = taken.filter((n) => !lock?.namespaces.includes(n));
  if (foreign.length) {
    return `in-pod mode needs the network namespace name(s) ${foreign.join(", ")}, which exist already`;
  }
  return undefined; // a dead demo's namespaces: the next claim removes them
}
