/**
 * Process metrics computed at scrape: `process_open_fds` (entries of /dev/fd; needs --allow-all,
 * omitted when not permitted), `process_resident_memory_bytes` and `process_start_time_seconds`.
 */
import type { Registry } from "./registry.ts";

/** Counts this process's open file descriptors, or undefined when /dev/fd cannot be read. */
export function countOpenFds(): number | undefined {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/dev/fd")) n++;
    return n;
  } catch {
    return undefined;
  }
}

export interface ProcessMetricsOptions {
  /** Process start, ms since the epoch; defaults to now minus the runtime's uptime. */
  readonly startTimeMs?: number;
}

export function registerProcessMetrics(registry: Registry, opts: ProcessMetricsOptions = {}): void {
  const start = opts.startTimeMs ?? (performance.timeOrigin || Date.now() - performance.now());
  registry.callbackGauge({
    name: "process_open_fds",
    help: "Number of open file descriptors.",
    collect: countOpenFds,
  });
  registry.callbackGauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    collect: () => Deno.memoryUsage().rss,
  });
  registry.callbackGauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    collect: () => Math.floor(start / 1000),
  });
}
