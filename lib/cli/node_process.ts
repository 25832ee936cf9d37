/**
 * A zt node as a child process (the demo's nodes, the integration tests' nodes): started with
 * ztunnel's environment variables, JSON logs captured, readiness awaited, drained with a signal.
 */

import { LogCollector, type LogRecord } from "./log_collector.ts";

export type { LogRecord };

export interface NodeProcessOptions {
  readonly name: string;
  readonly ip: string;
  /** LOCAL_CA_DIR (the built-in CA); omit for the Istio CA (CA_ADDRESS in `env`). */
  readonly caDir?: string;
  /** LOCAL_XDS_PATH (standalone config); omit for xDS (XDS_ADDRESS in `env`). */
  readonly configPath?: string;
  readonly env?: Record<string, string>;
  readonly readyTimeoutMs?: number;
  /** `start` waits for /healthz/ready to answer 200 (default); false returns once spawned. */
  readonly waitReady?: boolean;
  /** Extra `deno run` flags before the script (script mode only), e.g. permissions. */
  readonly denoFlags?: string[];
  /** How to start zt, instead of `ztCommand(denoFlags)`; e.g. `deno run <flags> dist/zt.js`. */
  readonly command?: { readonly cmd: string; readonly args: readonly string[] };
  /** The node's working directory (default: this process's). */
  readonly cwd?: string;
  /** Called with each log line as it arrives. */
  readonly onLog?: (rec: LogRecord) => void;
}

/**
 * The V8 flag zt runs with (permissions.txt carries the same line; compile.sh bakes it into the binary).
 * Nodes started from source get it here, since a running script cannot see its own runtime flags.
 */
export const ZT_V8_FLAGS = "--v8-flags=--max-semi-space-size=4";

/**
 * How to start zt again: the compiled binary itself; `deno run <flags> dist/zt.js` when running as
 * the bundle; `deno run <flags> main.ts` from source (including from tests, whose main module is
 * the test file).
 */
export function ztCommand(denoFlags: string[] = ["-A", ZT_V8_FLAGS]): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  const main = Deno.mainModule;
  const script = /\/deno[^/]*$/.test(exe) && main.startsWith("file:");
  if (!script) return { cmd: exe, args: [] };
  // From source this module is lib/cli/node_process.ts; in the bundle it is the bundle (the main module).
  const fromSource = import.meta.url.endsWith("/lib/cli/node_process.ts");
  const entry = fromSource ? new URL("../../main.ts", import.meta.url) : new URL(main);
  return { cmd: exe, args: ["run", ...denoFlags, decodeURIComponent(entry.pathname)] };
}

export class NodeProcess {
  readonly child: Deno.ChildProcess;
  readonly #logs: LogCollector;
  #exited = false;

  private constructor(readonly opts: NodeProcessOptions) {
    const { cmd, args } = opts.command ?? ztCommand(opts.denoFlags);
    this.child = new Deno.Command(cmd, {
      args: [...args, "run"],
      cwd: opts.cwd,
      env: {
        NODE_NAME: opts.name,
        INSTANCE_IP: opts.ip,
        ...(opts.configPath ? { LOCAL_XDS_PATH: opts.configPath } : {}),
        ...(opts.caDir ? { LOCAL_CA_DIR: opts.caDir } : {}),
        LOG_FORMAT: "json",
        RUST_LOG: "info",
        // Deno's update check opens files and sockets of its own at any time (and aborts under EMFILE).
        DENO_NO_UPDATE_CHECK: "1",
        ...opts.env,
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child.status.then(() => (this.#exited = true));
    this.#logs = new LogCollector(this.child.stderr, opts.name, opts.onLog);
  }

  get logs(): LogRecord[] {
    return this.#logs.logs;
  }

  get name(): string {
    return this.opts.name;
  }
  get ip(): string {
    return this.opts.ip;
  }

  /** Starts the node and (unless `waitReady: false`) waits until /healthz/ready answers 200. */
  static async start(opts: NodeProcessOptions): Promise<NodeProcess> {
    const node = new NodeProcess(opts);
    if (opts.waitReady === false) return node;
    try {
      await node.ready(opts.readyTimeoutMs);
    } catch (e) {
      await node.stop("SIGKILL");
      throw e;
    }
    return node;
  }

  /** The readiness probe's answer now: status and trimmed body (status 0 when nothing answers). */
  async probe(): Promise<{ status: number; body: string }> {
    try {
      const res = await fetch(`http://${this.ip}:15021/healthz/ready`);
      return { status: res.status, body: (await res.text()).trim() };
    } catch (e) {
      return { status: 0, body: String(e) };
    }
  }

  /** Waits until /healthz/ready answers 200; throws with the last answer and the logs otherwise. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline && !this.#exited) {
      const p = await this.probe();
      last = p.body;
      if (p.status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node ${this.name} did not become ready (${last})\n${this.#logs.dump()}`);
  }

  /** The first log record matching `pred`, already seen or arriving within `timeoutMs`. */
  waitForLog(pred: (l: LogRecord) => boolean, timeoutMs = 10_000): Promise<LogRecord> {
    return this.#logs.waitFor(pred, timeoutMs);
  }

  admin(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`http://${this.ip}:15000${path}`, init);
  }

  async configDump(): Promise<Record<string, unknown>> {
    const res = await this.admin("/config_dump");
    return await res.json();
  }

  /** Sends `signal` (SIGTERM: graceful drain) and resolves with the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    if (!this.#exited) {
      try {
        this.child.kill(signal);
      } catch { /* already gone */ }
    }
    const status = await this.child.status;
    await this.#logs.done;
    return status.code;
  }
}
