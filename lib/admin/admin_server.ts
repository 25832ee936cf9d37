/**
 * The admin server (ztunnel's `127.0.0.1:15000`): `GET /` dashboard, `GET /config_dump`,
 * `POST /logging`, `POST /quitquitquit`; 404 for anything else, 405 for a known path with the wrong
 * method.
 */
import { formatLogFilter, type LogFilter, type LogSink, parseLogFilter } from "../log/logger.ts";
import { errorMessage } from "../error.ts";
import type { RunningServer } from "../metrics/metrics_server.ts";
import { type ConnectionView, renderDashboard } from "./dashboard.ts";
import { type DnsLookupFn, handleDnsLookup } from "./dns_lookup.ts";

export type { ConnectionView } from "./dashboard.ts";

export interface AdminDeps {
  configDump(): unknown | Promise<unknown>;
  readonly logSink: LogSink;
  /** Graceful drain; resolves when done or when the deadline hit. */
  shutdown(): Promise<void>;
  connections(): ConnectionView[];
  /** For tests; defaults to Date.now. */
  now?(): number;
  /** `GET /dns_lookup` (lib/admin/dns_lookup.ts); absent while the DNS proxy is off. */
  dnsLookup?(): DnsLookupFn | undefined;
}

export interface AdminServerOptions {
  readonly hostname?: string;
  readonly port?: number;
  readonly deps: AdminDeps;
  readonly signal?: AbortSignal;
}

/** ztunnel's `/logging` help text (mirrors Envoy's). */
export const LOGGING_HELP = `
usage: POST /logging\t\t\t\t\t\t(To list current level)
usage: POST /logging?level=<level>\t\t\t\t(To change global levels)
usage: POST /logging?level={mod1}:{level1},{mod2}:{level2}\t(To change specific mods' logging level)
usage: POST /logging?level=reset\t\t\t\t(To restore the startup levels)

hint: loglevel:\terror|warn|info|debug|trace|off
hint: mod_name:\tthe component name, i.e. xds, inbound, outbound, access
`;

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function text(body: string, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...TEXT, ...extra } });
}

const ROUTES: Record<string, string> = {
  "/": "GET",
  "/config_dump": "GET",
  "/logging": "POST",
  "/quitquitquit": "POST",
  "/dns_lookup": "GET",
};

/** `current log level is info,xds=debug\n` (ztunnel prints its filter directive string). */
export function describeLogLevel(f: LogFilter): string {
  return `current log level is ${formatLogFilter(f)}\n`;
}

/**
 * Applies a `/logging` query to the sink. `level=reset` (or a `reset` parameter) restores the
 * startup filter first; other levels are merged over the current filter. Returns the reply.
 */
export function handleLogging(sink: LogSink, params: URLSearchParams): Response {
  const level = params.get("level");
  const isReset = level?.trim().toLowerCase() === "reset";
  const reset = params.has("reset") || isReset;
  if (level === null && !reset) return text(describeLogLevel(sink.filter));
  const spec = isReset ? "" : (level ?? "").trim();
  if (spec === "" && !reset) return text(`Invalid level provided: ${level}\n${LOGGING_HELP}`, 400);
  let next: LogFilter | undefined;
  try {
    if (spec) next = parseLogFilter(spec, sink.filter); // validates before anything changes
  } catch (e) {
    return text(`Invalid level provided: ${spec}\n${errorMessage(e)}\n${LOGGING_HELP}`, 400);
  }
  if (reset) {
    sink.reset();
    if (spec) sink.setFilter(parseLogFilter(spec, sink.filter));
  } else if (next) {
    sink.setFilter(next);
  }
  return text(describeLogLevel(sink.filter));
}

export function adminHandler(deps: AdminDeps): (req: Request) => Promise<Response> {
  let shuttingDown: Promise<void> | undefined;
  const now = () => deps.now?.() ?? Date.now();
  return async (req) => {
    const url = new URL(req.url);
    const allowed = ROUTES[url.pathname];
    if (!allowed) return text("not found\n", 404);
    if (req.method !== allowed) {
      const body = url.pathname === "/logging"
        ? `Invalid HTTP method\n ${LOGGING_HELP}`
        : "method not allowed\n";
      return text(body, 405, { allow: allowed });
    }
    switch (url.pathname) {
      case "/config_dump": {
        try {
          const dump = await deps.configDump();
          return new Response(JSON.stringify(dump, null, 2) + "\n", {
            headers: { "content-type": "application/json" },
          });
        } catch (e) {
          return text(`failed to build config_dump: ${errorMessage(e)}\n`, 500);
        }
      }
      case "/logging":
        return handleLogging(deps.logSink, url.searchParams);
      case "/dns_lookup":
        return await handleDnsLookup(url.searchParams, deps.dnsLookup?.());
      case "/quitquitquit":
        if (!shuttingDown) {
          // reply first; the drain starts once this response is on its way
          shuttingDown = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => deps.shutdown());
          shuttingDown.catch(() => {});
        }
        return text("shutdown now\n");
      default: {
        let dump: unknown;
        try {
          dump = await deps.configDump();
        } catch (e) {
          dump = { error: errorMessage(e) };
        }
        const html = renderDashboard({ dump, connections: deps.connections(), now: now() });
        return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
      }
    }
  };
}

export function serveAdmin(opts: AdminServerOptions): RunningServer {
  const server = Deno.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? 15000,
    signal: opts.signal,
    onListen: () => {},
  }, adminHandler(opts.deps));
  return { addr: server.addr, shutdown: () => server.shutdown(), finished: server.finished };
}
