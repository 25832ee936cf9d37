/**
 * What the in-pod demo makes on this machine, and its removal: network namespaces, the pods'
 * /etc/netns/<ns> directories (resolv.conf), and its temp directory. Each is recorded in a lock file
 * (/var/run/zt-demo.json) as soon as it exists, so a demo that was killed outright (SIGKILL) leaves a
 * record the next run uses to remove exactly that, and nothing else. A demo still running holds the
 * lock; a second one refuses. /var/run is cleared at boot, as the namespaces are.
 */
import { ZtError } from "../error.ts";
import { type CommandResult, type Exec, systemExec } from "../capture/command_runner.ts";

export const DEMO_LOCK = "/var/run/zt-demo.json";
const ETC_NETNS = "/etc/netns";

export interface DemoLock {
  readonly pid: number;
  readonly dir: string;
  readonly namespaces: string[];
  /** /etc/netns/<ns> directories made for pods (and /etc/netns itself, last, when the demo made it). */
  readonly etcNetns: string[];
}

export async function readDemoLock(path = DEMO_LOCK): Promise<DemoLock | undefined> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    if (
      typeof v?.pid !== "number" || typeof v.dir !== "string" || !Array.isArray(v.namespaces) ||
      !Array.isArray(v.etcNetns)
    ) return undefined;
    return v as DemoLock;
  } catch {
    return undefined;
  }
}

/** The lock's demo is still running (its pid is alive and is a zt demo). */
export function lockHolderAlive(lock: DemoLock): boolean {
  if (lock.pid === Deno.pid) return true;
  try {
    const cmdline = Deno.readTextFileSync(`/proc/${lock.pid}/cmdline`);
    return cmdline.split("\0").includes("demo");
  } catch {
    return false;
  }
}

/** Namespace names as `ip netns list` prints them ("name" or "name (id: N)"). */
export function parseNetnsList(text: string): string[] {
  return text.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}

async function must(exec: Exec, argv: readonly string[], stdin?: string): Promise<string> {
  const r = await exec(argv, stdin);
  if (r.code !== 0) {
    throw new ZtError("demo", `${argv.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Ends every process inside `ns` (SIGKILL) and waits until none is left (2 s at most). */
async function emptyNamespace(exec: Exec, ns: string): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const r = await exec(["ip", "netns", "pids", ns]);
    const pids = r.code === 0 ? r.stdout.split("\n").map(Number).filter((p) => p > 0 && p !== Deno.pid) : [];
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone already */ }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes what `lock` records (namespaces last-made first, their processes, directories), then the lock. */
async function release(exec: Exec, lock: DemoLock, lockPath: string): Promise<string[]> {
  const problems: string[] = [];
  for (const ns of [...lock.namespaces].reverse()) {
    await emptyNamespace(exec, ns);
    const r = await exec(["ip", "netns", "del", ns]);
    if (r.code !== 0 && !/No such file/.test(r.stderr)) {
      problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
  }
  for (const path of [...lock.etcNetns, lock.dir]) {
    // /etc/netns itself only while empty: other namespaces' files may have arrived since.
    const recursive = path !== ETC_NETNS;
    await Deno.remove(path, { recursive }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound) && recursive) problems.push(`rm -r ${path}: ${e}`);
    });
  }
  await Deno.remove(lockPath).catch(() => {});
  return problems;
}

export class DemoNamespaces {
  readonly #exec: Exec;
  readonly #lockPath: string;
  #lock: DemoLock;
  #released?: Promise<string[]>;
  /** Changes to what exists run one at a time, so a removal never misses a namespace still being added. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(exec: Exec, lockPath: string, lock: DemoLock) {
    this.#exec = exec;
    this.#lockPath = lockPath;
    this.#lock = lock;
  }

  /**
   * Takes the lock for a demo whose temp directory is `dir`. A dead demo's leftovers are removed first;
   * a live demo's lock is refused (ZtError "demo").
   */
  static async claim(
    dir: string,
    opts: { exec?: Exec; lockPath?: string; onReclaim?: (old: DemoLock) => void } = {},
  ): Promise<DemoNamespaces> {
    const exec = opts.exec ?? systemExec();
    const lockPath = opts.lockPath ?? DEMO_LOCK;
    const old = await readDemoLock(lockPath);
    if (old && lockHolderAlive(old)) {
      throw new ZtError("demo", `another zt demo (pid ${old.pid}) is running in in-pod mode`);
    }
    if (old) {
      opts.onReclaim?.(old);
      await release(exec, old, lockPath);
    }
    const self = new DemoNamespaces(exec, lockPath, { pid: Deno.pid, dir, namespaces: [], etcNetns: [] });
    await self.#save();
    return self;
  }

  async #save(): Promise<void> {
    await Deno.writeTextFile(`${this.#lockPath}.tmp`, JSON.stringify(this.#lock));
    await Deno.rename(`${this.#lockPath}.tmp`, this.#lockPath);
  }

  /** Queues `fn` after the changes before it; refused once a release has been asked for. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#released) {
      return Promise.reject(new ZtError("demo", "the demo's namespaces are being removed"));
    }
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** `ip netns add ns`, loopback up, the sysctls set inside it. */
  add(ns: string, sysctls: Readonly<Record<string, string>> = {}): Promise<void> {
    return this.#serial(() => this.#add(ns, sysctls));
  }

  async #add(ns: string, sysctls: Readonly<Record<string, string>>): Promise<void> {
    await must(this.#exec, ["ip", "netns", "add", ns]);
    this.#lock = { ...this.#lock, namespaces: [...this.#lock.namespaces, ns] };
    await this.#save();
    await must(this.#exec, ["ip", "-n", ns, "link", "set", "lo", "up"]);
    const kv = Object.entries(sysctls).map(([k, v]) => `${k}=${v}`);
    if (kv.length) await must(this.#exec, ["ip", "netns", "exec", ns, "sysctl", "-q", "-w", ...kv]);
  }

  /** Runs `argv` inside `ns`. */
  run(ns: string, argv: readonly string[], stdin?: string): Promise<CommandResult> {
    return this.#exec(["ip", "netns", "exec", ns, ...argv], stdin);
  }

  /** Runs `argv` inside `ns`; its stdout, or ZtError "demo" with its stderr. */
  must(ns: string, argv: readonly string[], stdin?: string): Promise<string> {
    return must(this.#exec, ["ip", "netns", "exec", ns, ...argv], stdin);
  }

  /** Writes /etc/netns/<ns>/<file>, which `ip netns exec ns` mounts over /etc/<file>. */
  etcFile(ns: string, file: string, text: string): Promise<string> {
    return this.#serial(() => this.#etcFile(ns, file, text));
  }

  async #etcFile(ns: string, file: string, text: string): Promise<string> {
    const dir = `${ETC_NETNS}/${ns}`;
    if (!this.#lock.etcNetns.includes(dir)) {
      const made = [dir];
      try {
        await Deno.stat(ETC_NETNS);
      } catch {
        made.push(ETC_NETNS);
      }
      await Deno.mkdir(dir, { recursive: true });
      // Pod directories before /etc/netns itself: release removes them in this order.
      const etc = [...this.#lock.etcNetns.filter((d) => d !== ETC_NETNS), dir];
      if (made.length > 1 || this.#lock.etcNetns.includes(ETC_NETNS)) etc.push(ETC_NETNS);
      this.#lock = { ...this.#lock, etcNetns: etc };
      await this.#save();
    }
    await Deno.writeTextFile(`${dir}/${file}`, text);
    return `${dir}/${file}`;
  }

  /** Removes everything recorded, processes inside the namespaces included; idempotent. Problems found. */
  release(): Promise<string[]> {
    return this.#released ??= this.#queue.then(() => release(this.#exec, this.#lock, this.#lockPath));
  }
}
