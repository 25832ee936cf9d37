/**
 * One packet-rule command as plain data (argv, stdin, the probe deciding whether it runs, the failures
 * that mean "already done"), how it is printed for `--dry-run`, and how it is moved into a network
 * namespace. Nothing here runs anything (lib/capture/command_runner.ts does).
 */

export interface RuleCommand {
  readonly argv: readonly string[];
  /** Fed to the command's standard input. */
  readonly stdin?: string;
  /** Run only when this probe fails ("add unless already there"). */
  readonly unless?: readonly string[];
  /** Run only when this probe succeeds ("delete if there"). */
  readonly onlyIf?: readonly string[];
  /** A failure whose stderr matches this pattern means "already done" and is not an error. */
  readonly tolerate?: string;
}

/** One command as a shell line (what `--dry-run` prints). */
export function formatCommand(c: RuleCommand): string {
  const cmd = c.argv.map(shellQuote).join(" ");
  const body = c.stdin === undefined ? cmd : `${cmd} <<'EOF'\n${c.stdin.replace(/\n$/, "")}\nEOF`;
  if (c.unless) return `${c.unless.map(shellQuote).join(" ")} 2>/dev/null || ${body}`;
  if (c.onlyIf) return `if ${c.onlyIf.map(shellQuote).join(" ")} >/dev/null 2>&1; then ${body}; fi`;
  if (c.tolerate) return `${body}  # a failure matching /${c.tolerate}/ means already done`;
  return body;
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** `argv` run inside the network namespace file `netnsPath` (an absolute path, e.g. /var/run/netns/x). */
export function nsenterArgv(netnsPath: string, argv: readonly string[]): string[] {
  return ["nsenter", `--net=${netnsPath}`, "--", ...argv];
}

/** The command, and its probe, run inside the network namespace file `netnsPath`. */
export function inNetns(netnsPath: string, c: RuleCommand): RuleCommand {
  return {
    ...c,
    argv: nsenterArgv(netnsPath, c.argv),
    ...(c.unless ? { unless: nsenterArgv(netnsPath, c.unless) } : {}),
    ...(c.onlyIf ? { onlyIf: nsenterArgv(netnsPath, c.onlyIf) } : {}),
  };
}
