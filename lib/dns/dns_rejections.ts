/**
 * DNS requests refused for bad input or exhausted limits: counted by reason
 * (zt_dns_rejected_requests_total{reason}), logged at debug each, and warned about at most once per
 * interval with the count since the last warning (a flood cannot flood the log).
 */
import type { CounterFamily } from "../metrics/metric_family.ts";
import type { Registry } from "../metrics/registry.ts";
import type { Logger } from "../log/logger.ts";

export type RejectReason =
  | "short"
  | "malformed"
  | "not_query"
  | "tcp_connections"
  | "tcp_timeout"
  | "upstream_busy"
  | "workload_wait";

export class DnsRejections {
  readonly #family: CounterFamily;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #lastWarn = -Infinity;
  #since = 0;

  constructor(registry: Registry, log: Logger, intervalMs = 10_000) {
    this.#family = registry.counter({
      name: "zt_dns_rejected_requests",
      help: "DNS requests refused: reason short (dropped), malformed (FORMERR), not_query (NOTIMP), " +
        "tcp_connections, tcp_timeout, upstream_busy or workload_wait (SERVFAIL).",
      labelNames: ["reason"],
    });
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  reject(reason: RejectReason, detail: string): void {
    this.#family.labels([reason]).inc();
    this.#since++;
    this.#log.debug("dns request refused", { reason, error: detail });
    const now = performance.now();
    if (now - this.#lastWarn >= this.#intervalMs) {
      this.#log.warn("dns requests refused", { reason, error: detail, count: this.#since });
      this.#lastWarn = now;
      this.#since = 0;
    }
  }

  count(reason: RejectReason): number {
    return this.#family.get([reason])?.value ?? 0;
  }
}
