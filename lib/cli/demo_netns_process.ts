/**
 * A zt command the in-pod demo runs inside a node's network namespace (`ip netns exec node-a zt cni …`,
 * `ip netns exec node-a zt run`): JSON logs collected, waited on, stopped with a signal and a grace
 * period. `ip netns exec` execs the command, so the child is zt itself and signals reach it directly.
 */
import { LogCollector, type LogRecord } from "./log_collector.ts";
import { ztCommand } from "./node_process.ts";
import { ZtError } from "../error.ts";

export class NetnsProcess {
  readonly #child: Deno.ChildProcess;
  readonly #logs: LogCollector;
  #exit?: number;

  constructor(readonly name: string, ns: string, args: readonly string[], env: Record<string, string>) {
    const zt = ztCommand();
    this.#child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, zt.cmd, ...zt.args, ...args],
      env: { LOG_FORMAT: "json", RUST_LOG: "info", ...env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child.status.then((s) => (this.#exit = s.code));
    this.#logs = new LogCollector(this.#child.stderr, name);
  }

  get logs(): readonly LogRecord[] {
    return this.#logs.logs;
  }

  /** The first record at index ≥ `from` matching `pred`; fails at once if the process exits first. */
  async waitForLog(pred: (l: LogRecord) => boolean, timeoutMs = 10_000, from = 0): Promise<LogRecord> {
    let waiting = true;
    const exited = this.#child.status.then(async (s) => {
      await this.#logs.done;
      const seen = this.#logs.logs.slice(from).find(pred);
      if (seen || !waiting) return seen!;
      const tail = this.#logs.logs.slice(-10).map((l) => JSON.stringify(l)).join("\n");
      throw new ZtError("demo", `${this.name} exited (${s.code}) before the expected log line:\n${tail}`);
    });
    const found = this.#logs.waitFor(pred, timeoutMs, from);
    found.catch(() => {}); // raced below; an exit may win
    try {
      return await Promise.race([found, exited]);
    } finally {
      waiting = false;
    }
  }

  /** Sends `signal`; after `graceMs` without an exit, SIGKILL. Resolves with the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM", graceMs = 5000): Promise<number> {
    if (this.#exit === undefined) {
      try {
        this.#child.kill(signal);
      } catch { /* gone */ }
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    const s = await this.#child.status;
    clearTimeout(timer);
    await this.#logs.done;
    return s.code;
  }
}
