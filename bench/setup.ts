/** A system under test: how lg reaches the sink through it, and which processes are its proxies. */
import type { Route } from "./lg_client.ts";
import { sleep } from "./process.ts";

export interface ProxyProc {
  label: string;
  pid: number;
}

export interface Setup {
  name: string;
  route: Route;
  /** The proxy processes whose CPU and RSS are measured (none for `direct`). */
  proxies: ProxyProc[];
  /** Why the setup is broken now (a proxy exited), or undefined while it is healthy. */
  failure(): string | undefined;
  stop(): Promise<void>;
}

export interface SetupContext {
  lg: string;
  /** host:port of the sink/echo server (on the server pod's IP). */
  sink: string;
  /** Scratch directory for configs and keys, removed at the end. */
  tmp: string;
  /** Directory for process logs (kept after the run). */
  logDir: string;
}

export interface SetupDef {
  name: string;
  description: string;
  /** Starts the setup, or throws {@link NotRun} (or any error) with the reason it cannot run. */
  start(ctx: SetupContext): Promise<Setup>;
}

/** The setup cannot run at all (as opposed to failing one measurement). */
export class NotRun extends Error {}

/** Resolves once host:port accepts TCP connections; `alive` can abort early (process exited). */
export async function waitForPort(addr: string, timeoutMs: number, alive: () => string | undefined) {
  const [hostname, port] = splitAddr(addr);
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const c = await Deno.connect({ hostname, port });
      c.close();
      return;
    } catch (e) {
      lastErr = e instanceof Error ? e.message : String(e);
    }
    await sleep(100);
  }
  throw new Error(`${addr} not accepting connections after ${timeoutMs} ms (${lastErr})`);
}

export function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

/** "<label> exited: <output>" for the first of procs that is no longer running. */
export function exitedMessage(
  procs: { exited: boolean; label: string; tail(): string }[],
): string | undefined {
  const dead = procs.find((p) => p.exited);
  return dead ? `${dead.label} exited: ${dead.tail()}` : undefined;
}
