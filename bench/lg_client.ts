/** Driving bench/build/lg: the sink server, one-shot client modes, and held idle connections. */
import { Proc, start } from "./process.ts";

// deno-lint-ignore no-explicit-any
export type LgResult = Record<string, any>;

/** Where lg clients connect: the sink's address and, for zt, the SOCKS5 entry. */
export interface Route {
  target: string;
  socks5?: string;
  /** Run the client inside this network namespace (a pod's, for transparent capture). */
  netns?: string;
}

/** cmd/args for lg, inside `netns` when given. */
export function lgCommand(lg: string, args: string[], netns?: string): { cmd: string; args: string[] } {
  return netns ? { cmd: "ip", args: ["netns", "exec", netns, lg, ...args] } : { cmd: lg, args };
}

export function routeArgs(r: Route): string[] {
  return ["--target", r.target, ...(r.socks5 ? ["--socks5", r.socks5] : [])];
}

/** Starts `lg sink` and waits until it listens; `addr` is where (the real port when asked for 0). */
export async function startSink(
  lg: string,
  listen: string,
  logFile?: string,
  netns?: string,
): Promise<{ proc: Proc; addr: string }> {
  const proc = start({
    label: "lg sink",
    ...lgCommand(lg, ["sink", "--listen", listen], netns),
    nofile: 1 << 20,
    logFile,
  });
  try {
    const line = await proc.nextLine(5000);
    const addr = JSON.parse(line).listening;
    if (typeof addr !== "string") throw new Error(`lg sink: unexpected output: ${line}`);
    return { proc, addr };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** Runs one client mode to completion and returns its JSON line; throws with lg's stderr on failure. */
export async function runLg(lg: string, mode: string, route: Route, args: string[], timeoutMs: number) {
  const proc = start({
    label: `lg ${mode}`,
    ...lgCommand(lg, [mode, ...routeArgs(route), ...args], route.netns),
    nofile: 1 << 20,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.stop(1000);
  }, timeoutMs);
  const status = await proc.status;
  clearTimeout(timer);
  if (timedOut) throw new Error(`lg ${mode}: timed out after ${timeoutMs / 1000} s`);
  const last = proc.takeLines().filter((l) => l.startsWith("{")).pop();
  let result: LgResult | undefined;
  try {
    result = last ? JSON.parse(last) : undefined;
  } catch { /* reported below */ }
  if (!status.success || !result) {
    const stderr = proc.tail().replace(last ?? "\0", "").replace(/^[\s|]+|[\s|]+$/g, "");
    throw new Error(
      `lg ${mode} failed (exit ${status.code}): ${[stderr, last].filter(Boolean).join(" ") || "no output"}`,
    );
  }
  if (result.error) result.error = String(result.error);
  return result;
}

/** `lg idle` holding N connections open until closed. */
export class IdleConns {
  private constructor(
    private proc: Proc,
    readonly opened: number,
    readonly failed: number,
    readonly error: string,
  ) {}

  static async open(lg: string, route: Route, n: number, timeoutMs: number, logFile?: string) {
    const proc = start({
      label: `lg idle ${n}`,
      ...lgCommand(lg, ["idle", ...routeArgs(route), "--conns", String(n), "--threads", "8"], route.netns),
      nofile: 1 << 20,
      stdin: true,
      logFile,
    });
    try {
      const r = JSON.parse(await proc.nextLine(timeoutMs));
      return new IdleConns(proc, r.open, r.failed, r.error ?? "");
    } catch (e) {
      await proc.stop();
      throw e;
    }
  }

  /** Round trip on every held connection; how many still echo. */
  async check(): Promise<number> {
    await this.proc.writeLine("check");
    return JSON.parse(await this.proc.nextLine(30000)).alive;
  }

  close(): Promise<void> {
    return this.proc.stop(5000);
  }
}
