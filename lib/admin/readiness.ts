/**
 * Readiness as ztunnel tracks it: named startup tasks (`state manager`, `proxy`, `dns proxy`,
 * `workload proxy manager`, ...) that each mark themselves done; ready when none is pending.
 * A task may be registered again later (e.g. on a ZDS disconnect), making the node not ready.
 *
 * Served on ztunnel's `[::]:15021`: `GET /healthz/ready` → `200 ready\n`, or
 * `500 not ready, pending: <task>, <task>\n`.
 */
import type { RunningServer } from "../metrics/metrics_server.ts";

export class Readiness {
  readonly #pending = new Set<{ readonly name: string }>();
  #waiters: Array<() => void> = [];

  /** Registers a pending task; call the returned function (idempotent) once it is done. */
  register(task: string): () => void {
    const token = { name: task };
    this.#pending.add(token);
    return () => {
      this.#pending.delete(token);
      if (this.#pending.size > 0) return;
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    };
  }

  /** Resolves the next time nothing is pending (at once if nothing is). */
  whenReady(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Names of pending tasks, sorted (a name appears once per outstanding registration). */
  pending(): string[] {
    return [...this.#pending].map((t) => t.name).sort();
  }

  get ready(): boolean {
    return this.#pending.size === 0;
  }
}

export interface ReadinessServerOptions {
  readonly hostname?: string;
  readonly port?: number;
  readonly readiness: Readiness;
  readonly signal?: AbortSignal;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

export function readinessHandler(readiness: Readiness): (req: Request) => Response {
  return (req) => {
    if (new URL(req.url).pathname !== "/healthz/ready") return new Response("not found\n", { status: 404 });
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { ...TEXT, allow: "GET, HEAD" } });
    }
    const pending = readiness.pending();
    if (pending.length === 0) return new Response("ready\n", { headers: TEXT });
    return new Response(`not ready, pending: ${pending.join(", ")}\n`, { status: 500, headers: TEXT });
  };
}

export function serveReadiness(opts: ReadinessServerOptions): RunningServer {
  const server = Deno.serve({
    hostname: opts.hostname ?? "::",
    port: opts.port ?? 15021,
    signal: opts.signal,
    onListen: () => {},
  }, readinessHandler(opts.readiness));
  return { addr: server.addr, shutdown: () => server.shutdown(), finished: server.finished };
}
