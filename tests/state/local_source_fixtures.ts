/** Shared by the LocalConfigSource tests: a captured log, a polling wait, config texts, a fast source. */
import { Logger, LogSink } from "../../lib/log/logger.ts";
import type { LocalConfig } from "../../lib/state/local_config.ts";
import { type LocalConfigFailure, LocalConfigSource } from "../../lib/state/local_source.ts";

export function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new LogSink({ defaultLevel: "info", components: new Map() }, "plain", (l) => lines.push(l));
  return { log: new Logger(sink, "config"), lines };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function workloads(...ips: string[]): string {
  return `workloads:\n${
    ips.map((ip, i) => `- {name: w${i}, namespace: ns, workloadIps: ["${ip}"]}`).join("\n")
  }\n`;
}

/** A source on `path` with fast retries; `failures` collects what onFailure counted. */
export function source(path: string, opts: { retryMs?: number } = {}) {
  const { log, lines } = capture();
  const seen: LocalConfig[] = [];
  const failures: LocalConfigFailure[] = [];
  const src = new LocalConfigSource({
    path,
    log,
    onConfig: (c) => seen.push(c),
    onFailure: (k) => failures.push(k),
    debounceMs: 20,
    retryMs: opts.retryMs ?? 50,
    maxRetryMs: 200,
  });
  return { src, seen, failures, lines };
}

export const ipsOf = (c: LocalConfig | undefined) => c?.workloads.map((w) => w.workloadIps[0]);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
