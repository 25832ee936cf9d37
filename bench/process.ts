/**
 * Child processes of the bench: each in its own process group (setsid), stdout split into lines,
 * stdout and stderr kept (the tail in memory, everything in a log file), stopped by signalling the
 * group. Every started process is registered so {@link stopAll} can clean up on any exit path.
 */

const LIVE = new Set<Proc>();
const TAIL_BYTES = 4096;

export interface StartOptions {
  label: string;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Raise RLIMIT_NOFILE to this before exec (through bash `ulimit`; falls back to the hard limit). */
  nofile?: number;
  /** Where stdout+stderr are appended. */
  logFile?: string;
  stdin?: boolean;
}

export class Proc {
  readonly label: string;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #lines: string[] = [];
  #waiters: ((line: string | null) => void)[] = [];
  #eof = false;
  #tail = "";
  #log?: Deno.FsFile;
  #stdin?: WritableStreamDefaultWriter<Uint8Array>;
  exited = false;

  constructor(o: StartOptions) {
    this.label = o.label;
    const ulimit = o.nofile ? `ulimit -n ${o.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ` : "";
    this.#child = new Deno.Command("bash", {
      args: ["-c", `${ulimit}exec "$0" "$@"`, o.cmd, ...o.args],
      env: o.env,
      cwd: o.cwd,
      stdin: o.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    this.pid = this.#child.pid;
    if (o.logFile) this.#log = Deno.openSync(o.logFile, { append: true, create: true, write: true });
    if (o.stdin) this.#stdin = this.#child.stdin.getWriter();
    LIVE.add(this);
    const out = this.#drain(this.#child.stdout, true);
    const err = this.#drain(this.#child.stderr, false);
    this.status = this.#child.status.then(async (s) => {
      this.exited = true;
      LIVE.delete(this);
      await Promise.allSettled([out, err]);
      this.#log?.close();
      this.#log = undefined;
      return s;
    });
  }

  async #drain(stream: ReadableStream<Uint8Array>, splitLines: boolean) {
    const dec = new TextDecoder();
    let partial = "";
    try {
      for await (const chunk of stream) {
        try {
          this.#log?.writeSync(chunk);
        } catch { /* log is best effort */ }
        const text = dec.decode(chunk, { stream: true });
        this.#tail = (this.#tail + text).slice(-TAIL_BYTES);
        if (!splitLines) continue;
        partial += text;
        const parts = partial.split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) this.#push(line);
      }
    } catch { /* the process was killed */ }
    if (splitLines) {
      if (partial) this.#push(partial);
      this.#eof = true;
      for (const w of this.#waiters.splice(0)) w(null);
    }
  }

  #push(line: string) {
    const w = this.#waiters.shift();
    if (w) w(line);
    else this.#lines.push(line);
  }

  /** The next stdout line; throws on EOF or after timeoutMs. */
  nextLine(timeoutMs: number): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#eof) return Promise.reject(new Error(`${this.label} exited: ${this.tail()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.label}: no output within ${timeoutMs} ms; last output: ${this.tail()}`));
      }, timeoutMs);
      const waiter = (line: string | null) => {
        clearTimeout(timer);
        if (line === null) reject(new Error(`${this.label} exited: ${this.tail()}`));
        else resolve(line);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Every stdout line not yet taken by nextLine (complete once `status` has resolved). */
  takeLines(): string[] {
    return this.#lines.splice(0);
  }

  async writeLine(s: string): Promise<void> {
    if (!this.#stdin) throw new Error(`${this.label}: stdin is not piped`);
    await this.#stdin.write(new TextEncoder().encode(s + "\n"));
  }

  /** The last few KiB of stdout+stderr, on one line. */
  tail(): string {
    const t = this.#tail.trim().replace(/\s*\n\s*/g, " | ");
    return t ? t.slice(-600) : "(no output)";
  }

  /** SIGTERM to the process group, SIGKILL after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    try {
      await this.#stdin?.close();
    } catch { /* already closed */ }
    if (!this.exited) signalGroup(this.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), graceMs);
    await this.status;
    clearTimeout(timer);
    signalGroup(this.pid, "SIGKILL"); // stray children of the group, if any
  }
}

function signalGroup(pid: number, sig: Deno.Signal) {
  try {
    Deno.kill(-pid, sig);
  } catch { /* the group is gone */ }
}

export function start(o: StartOptions): Proc {
  return new Proc(o);
}

/** Stops every process this module started and that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...LIVE].map((p) => p.stop(1000)));
}

/** Runs a command to completion; returns stdout, throws with stderr on failure. */
export async function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    stdout: "piped",
    stderr: "piped",
    signal: opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined,
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    const err = (dec.decode(out.stderr) || dec.decode(out.stdout)).trim().slice(-800);
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return dec.decode(out.stdout);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
