/**
 * Network-namespace topologies for root-only tests: namespaces as nodes and pods, veth pairs, commands
 * and long-running processes inside them, and a teardown that kills every process it started and
 * deletes every namespace it made (namespaces take their interfaces, routes and rules with them).
 * Nothing is configured in the test's own namespace.
 */
import { type CommandResult, systemExec } from "../../lib/cli/redirect.ts";

export type Output = CommandResult;

/** Runs a command to completion (zt's own runner, the one `zt redirect` uses). */
export function run(argv: readonly string[], stdin?: string): Promise<Output> {
  return systemExec()(argv, stdin);
}

/** Runs a command and throws with its stderr unless it succeeds. */
export async function must(argv: readonly string[], stdin?: string): Promise<string> {
  const r = await run(argv, stdin);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function onPath(bin: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${bin}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

/** Why namespace tests cannot run here (undefined: they can). Tries a real namespace. */
export async function netnsSkipReason(
  tools: readonly string[] = ["ip", "iptables", "iptables-restore"],
): Promise<
  string | undefined
> {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (Deno.uid() !== 0) return "needs root (network namespaces, iptables, IP_TRANSPARENT)";
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length) return `missing tools: ${missing.join(", ")} (apt-get install iproute2 iptables)`;
  // Unique per call: test modules run in parallel may share a pid.
  const probe = `ztchk-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const r = await run(["ip", "netns", "add", probe]);
  if (r.code !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`;
  await run(["ip", "netns", "del", probe]);
  return undefined;
}

export function hasCommand(bin: string): boolean {
  return onPath(bin);
}

/** Namespaces and processes of one test, all removed by `destroy`. */
export class Netns {
  readonly #namespaces: string[] = [];
  readonly #children = new Set<Deno.ChildProcess>();

  /** `prefix` names this test's namespaces; leftovers of a dead earlier run with it are removed. */
  constructor(readonly prefix: string) {}

  name(short: string): string {
    return `${this.prefix}-${short}`;
  }

  /** Deletes namespaces `<base>-<pid>-*` (and their processes) left by earlier runs whose process is gone. */
  async removeStale(): Promise<void> {
    const base = this.prefix.replace(/-\d+$/, "");
    const list = await run(["ip", "netns", "list"]);
    for (const line of list.stdout.split("\n")) {
      const ns = line.split(" ")[0];
      const m = new RegExp(`^${base.replace(/[^A-Za-z0-9]/g, "\\$&")}-(\\d+)-`).exec(ns);
      if (!m || Number(m[1]) === Deno.pid) continue;
      try {
        Deno.statSync(`/proc/${m[1]}`);
      } catch {
        await killAllIn(ns);
        await run(["ip", "netns", "del", ns]);
      }
    }
  }

  /** Creates namespace `<prefix>-<short>` with loopback up. */
  async add(short: string, sysctls: Record<string, string> = {}): Promise<string> {
    const ns = this.name(short);
    await must(["ip", "netns", "add", ns]);
    this.#namespaces.push(ns);
    await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    for (const [k, v] of Object.entries(sysctls)) {
      await must(this.exec(ns, ["sysctl", "-q", "-w", `${k}=${v}`]));
    }
    return ns;
  }

  /** `argv` run inside `ns`. */
  exec(ns: string, argv: readonly string[]): string[] {
    return ["ip", "netns", "exec", ns, ...argv];
  }

  /** Runs `argv` in `ns` and returns its output. */
  run(ns: string, argv: readonly string[], stdin?: string): Promise<Output> {
    return run(this.exec(ns, argv), stdin);
  }

  must(ns: string, argv: readonly string[], stdin?: string): Promise<string> {
    return must(this.exec(ns, argv), stdin);
  }

  /** Starts a long-running process in `ns`; `destroy` kills it. */
  /** A veth `iface` in `nodeNs` whose peer is `eth0` in `podNs` (a pod's link to its node), set up on the node side. */
  async podVeth(nodeNs: string, iface: string, podNs: string): Promise<void> {
    await this.must(nodeNs, [
      "ip",
      "link",
      "add",
      iface,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      podNs,
    ]);
    await this.must(nodeNs, ["ip", "link", "set", iface, "up"]);
  }

  spawn(ns: string, argv: readonly string[], env: Record<string, string> = {}): Deno.ChildProcess {
    const full = this.exec(ns, argv);
    const child = new Deno.Command(full[0], {
      args: full.slice(1),
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#children.add(child);
    child.status.then(() => this.#children.delete(child));
    return child;
  }

  /** Kills every process still running (SIGKILL) and deletes every namespace. */
  async destroy(): Promise<void> {
    for (const c of this.#children) {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await Promise.allSettled([...this.#children].map(async (c) => {
      await c.status;
      await Promise.allSettled([c.stdout.cancel(), c.stderr.cancel()]);
    }));
    for (const ns of this.#namespaces.reverse()) {
      await killAllIn(ns);
      await run(["ip", "netns", "del", ns]);
    }
    this.#namespaces.length = 0;
  }
}

/** SIGKILLs whatever still runs inside `ns` (a process of a crashed run, a grandchild). */
async function killAllIn(ns: string): Promise<void> {
  const pids = (await run(["ip", "netns", "pids", ns])).stdout.split("\n").map(Number).filter((p) => p > 0);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
}

/** Reads a child's output line by line; `waitFor` resolves with the first later line matching `pred`. */
export class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #rest = "";
  #lines: string[] = [];

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  async waitFor(pred: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) {
        if (pred(line)) return line;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no matching line within ${timeoutMs} ms (last: ${this.#rest.slice(-200)})`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), left)));
      const r = await Promise.race([this.#reader.read(), timeout]);
      clearTimeout(timer);
      if (r === "timeout") continue;
      if (r.done) throw new Error(`output ended before a matching line (last: ${this.#rest.slice(-200)})`);
      this.#rest += r.value;
      const parts = this.#rest.split("\n");
      this.#rest = parts.pop()!;
      this.#lines.push(...parts);
    }
  }
}
