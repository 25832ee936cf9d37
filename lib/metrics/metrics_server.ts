/**
 * The metrics endpoint (ztunnel's `[::]:15020`): `GET /metrics` and `GET /stats/prometheus`, in
 * Prometheus text, or OpenMetrics when the Accept header asks for `application/openmetrics-text`.
 */
import { contentTypeFor, type MetricsFormat } from "./exposition.ts";
import type { Registry } from "./registry.ts";

export interface MetricsServerOptions {
  readonly hostname?: string;
  readonly port?: number;
  readonly registry: Registry;
  readonly signal?: AbortSignal;
}

export interface RunningServer {
  readonly addr: Deno.NetAddr;
  /** Stops accepting, lets in-flight requests finish, resolves when the server is closed. */
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

const PATHS = new Set(["/metrics", "/stats/prometheus"]);

/** Picks the exposition format from an Accept header. */
export function negotiateFormat(accept: string | null): MetricsFormat {
  return accept && accept.toLowerCase().includes("application/openmetrics-text")
    ? "openmetrics"
    : "prometheus";
}

export function metricsHandler(registry: Registry): (req: Request) => Response {
  return (req) => {
    const path = new URL(req.url).pathname;
    if (!PATHS.has(path)) return new Response("not found\n", { status: 404 });
    if (req.method !== "GET") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    const format = negotiateFormat(req.headers.get("accept"));
    return new Response(registry.encode(format), { headers: { "content-type": contentTypeFor(format) } });
  };
}

export function serveMetrics(opts: MetricsServerOptions): RunningServer {
  const server = Deno.serve({
    hostname: opts.hostname ?? "::",
    port: opts.port ?? 15020,
    signal: opts.signal,
    onListen: () => {},
  }, metricsHandler(opts.registry));
  return {
    addr: server.addr,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}
