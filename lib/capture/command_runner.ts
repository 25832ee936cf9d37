/**
 * Runs rule commands (lib/capture/rule_command.ts): each probe decides whether its command runs,
 * tolerated failures pass, any other failure stops the run with a typed error. The process runner is
 * injected (`Exec`), so tests can record instead of execute.
 */
import { errorMessage, ZtError } from "../error.ts";
import { formatCommand, type RuleCommand } from "./rule_command.ts";

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one argv (with optional stdin); injected so tests can record instead of execute. */
export type Exec = (argv: readonly string[], stdin?: string) => Promise<CommandResult>;

/** Executes `argv` for real, optionally inside network namespace `netns` (`ip netns exec NS ...`). */
export function systemExec(netns?: string): Exec {
  return async (argv, stdin) => {
    const full = netns ? ["ip", "netns", "exec", netns, ...argv] : [...argv];
    let child;
    try {
      child = new Deno.Command(full[0], {
        args: full.slice(1),
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      throw new ZtError("redirect", `cannot run ${full[0]}: ${errorMessage(e)}`);
    }
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
}

/** Runs the commands in order, honouring probes and tolerated failures. Stops at the first error. */
export async function runCommands(cmds: readonly RuleCommand[], exec: Exec): Promise<number> {
  let ran = 0;
  for (const c of cmds) {
    if (c.unless && (await exec(c.unless)).code === 0) continue;
    if (c.onlyIf && (await exec(c.onlyIf)).code !== 0) continue;
    const r = await exec(c.argv, c.stdin);
    ran++;
    if (r.code === 0) continue;
    if (c.tolerate && new RegExp(c.tolerate).test(r.stderr)) continue;
    throw new ZtError(
      "redirect",
      `${formatCommand({ argv: c.argv })} failed (exit ${r.code}): ${r.stderr.trim()}`,
    );
  }
  return ran;
}
