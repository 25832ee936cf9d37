/**
 * A zt node running inside a network namespace (`ip netns exec <node> deno run <zt's permissions>
 * main.ts run`), with its JSON logs collected for assertions. Started and killed through a Netns, so
 * the topology's teardown also ends it.
 */
import { ztCommand } from "../../lib/cli/node_process.ts";
import { LogCollector, type LogRecord } from "../../lib/cli/log_collector.ts";
import { ztPermissions } from "./permissions.ts";
import type { Netns } from "./netns.ts";
import { SETTINGS } from "../../lib/config/settings.ts";
import { COMMANDS } from "../../main.ts";

export type { LogRecord };

export interface NetnsZtNodeOptions {
  readonly netns: Netns;
  readonly ns: string;
  readonly name: string;
  readonly ip: string;
  readonly caDir: string;
  readonly configPath: string;
  readonly env?: Record<string, string>;
}

/** `zt <args>` as argv, with zt's own permission flags (plus `extraFlags`). */
export function ztArgv(args: readonly string[], extraFlags: readonly string[] = []): string[] {
  const { cmd, args: pre } = ztCommand([...ztPermissions(), ...extraFlags]);
  return [cmd, ...pre, ...args];
}

/** A zt in capture mode (ZT_CAPTURE=tproxy, no SOCKS5) in each node namespace, started, not yet ready. */
export function captureNodes(
  netns: Netns,
  nodes: readonly { readonly ns: string; readonly name: string; readonly ip: string }[],
  files: { readonly caDir: string; readonly configPath: string },
  env: Record<string, string> = {},
): NetnsZtNode[] {
  return nodes.map((n) =>
    new NetnsZtNode({
      netns,
      ns: n.ns,
      name: n.name,
      ip: n.ip,
      ...files,
      env: { ZT_CAPTURE: "tproxy", UNSTABLE_ENABLE_SOCKS5: "false", ...env },
    })
  );
}

export class NetnsZtNode {
  readonly child: Deno.ChildProcess;
  readonly #logs: LogCollector;

  constructor(readonly opts: NetnsZtNodeOptions) {
    this.child = opts.netns.spawn(opts.ns, ztArgv(["run"]), {
      NODE_NAME: opts.name,
      INSTANCE_IP: opts.ip,
      LOCAL_XDS_PATH: opts.configPath,
      LOCAL_CA_DIR: opts.caDir,
      LOG_FORMAT: "json",
      RUST_LOG: "info",
      ...opts.env,
    });
    this.child.stdout.cancel().catch(() => {});
    this.#logs = new LogCollector(
      this.child.stderr,
      opts.name,
      Deno.env.get("ZT_TEST_VERBOSE")
        ? (l) => console.error(`[${opts.name}] ${JSON.stringify(l)}`)
        : undefined,
    );
  }

  get logs(): LogRecord[] {
    return this.#logs.logs;
  }

  get name(): string {
    return this.opts.name;
  }

  /** The first log record matching `pred` at index ≥ `from`, already seen or arriving within `timeoutMs`. */
  waitForLog(pred: (l: LogRecord) => boolean, timeoutMs = 10_000, from = 0): Promise<LogRecord> {
    return this.#logs.waitFor(pred, timeoutMs, from);
  }

  /** Waits for "zt ready", or fails with the node's log if it exits first. */
  async ready(timeoutMs = 30_000): Promise<void> {
    let waiting = true;
    const exited = this.child.status.then((s) => {
      if (!waiting) return;
      throw new Error(
        `${this.name} exited (${s.code}):\n${this.#logs.dump()}`,
      );
    });
    exited.catch(() => {});
    try {
      await Promise.race([this.waitForLog((l) => l.message === "zt ready", timeoutMs), exited]);
    } finally {
      waiting = false;
    }
  }

  /** The exit code once the process has ended on its own (log read to the end); killed after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<number> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const s = await this.child.status;
    clearTimeout(timer);
    await this.#logs.done;
    return s.code;
  }

  /** Graceful stop (SIGTERM); resolves with the exit code. */
  async stop(): Promise<number> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    const s = await this.child.status;
    await this.#logs.done;
    return s.code;
  }
}

/** Why capture tests cannot run yet: ZT_CAPTURE and `zt redirect` are not wired into zt. */
export function captureWiringSkipReason(): string | undefined {
  if (!SETTINGS.some((s) => (s[0] as string) === "ZT_CAPTURE")) {
    return "ZT_CAPTURE is not a setting of lib/config/settings.ts yet";
  }
  if (!("redirect" in COMMANDS)) return "`zt redirect` is not a command of main.ts yet";
  return undefined;
}

/** Inbound "connection complete" logs of `nodes` since `marks` matching `pred`, once there are `n` (5 s at most). */
export async function inboundLogs(
  nodes: readonly NetnsZtNode[],
  marks: readonly number[],
  pred: (l: LogRecord) => boolean,
  n: number,
): Promise<LogRecord[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = nodes.flatMap((z, i) =>
      z.logs.slice(marks[i]).filter((l) =>
        l.message === "connection complete" && l.direction === "inbound" && pred(l)
      )
    );
    if (found.length >= n || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}
