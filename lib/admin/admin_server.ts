/**
 * The admin server (ztunnel's `127.0.0.1:15000` and `[::1]:15000`): `GET /` dashboard, `GET /config_dump`,
 * `POST /logging`, `POST /quitquitquit`; 404 for anything else, 405 for a known path with the wrong
 * method.
 */
import {
  formatLogFilter,
  ignoredTargetsMessage,
  type LogFilter,
  Logger,
  type LogSink,
  parseLogFilter,
} from "../log/logger.ts";
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

/** ztunnel's `/logging` help text (mirrors Envoy's), with zt's `reset` and scope names. */
export const LOGGING_HELP = `
usage: POST /logging\t\t\t\t\t\t(To list current level)
usage: POST /logging?level=<level>\t\t\t\t(To change global levels)
usage: POST /logging?level={mod1}:{level1},{mod2}:{level2}\t(To change specific mods' logging level)
usage: POST /logging?level=reset\t\t\t\t(To restore the startup levels)

hint: loglevel:\terror|warn|info|debug|trace|off
hint: mod_name:\ta zt scope, i.e. xds, inbound, outbound, access, or a ztunnel module, i.e. ztunnel::proxy
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

/** What a `/logging` query asks for: the filter to set (undefined: only list), or why it is refused. */
export type LoggingDecision =
  | { readonly kind: "list" }
  | { readonly kind: "set"; readonly filter: LogFilter }
  | { readonly kind: "invalid"; readonly level: string; readonly reason: string };

/**
 * ztunnel's handle_logging: no `level` and no `reset`, or an empty `level` (istioctl's
 * `ztunnel-config log` sends `level=`), lists; `reset` starts again from the startup filter; a level
 * is merged over the current (or startup) filter. `level=reset` is zt's spelling of `reset`. The last
 * `level` wins, as ztunnel reads the query into a map.
 */
export function decideLogging(
  current: LogFilter,
  initial: LogFilter,
  params: URLSearchParams,
): LoggingDecision {
  const spec = (params.getAll("level").at(-1) ?? "").trim();
  const resetWord = spec.toLowerCase() === "reset";
  const reset = params.has("reset") || resetWord;
  if (!reset && spec === "") return { kind: "list" };
  if (resetWord || spec === "") return { kind: "set", filter: initial };
  try {
    return { kind: "set", filter: parseLogFilter(spec, { base: reset ? initial : current }) };
  } catch (e) {
    return { kind: "invalid", level: spec, reason: errorMessage(e) };
  }
}

/** Applies a `/logging` query to the sink and returns the reply. */
export function handleLogging(sink: LogSink, params: URLSearchParams): Response {
  const d = decideLogging(sink.filter, sink.initial, params);
  if (d.kind === "invalid") {
    return text(`Invalid level provided: ${d.level}\n${d.reason}\n${LOGGING_HELP}`, 400);
  }
  if (d.kind === "list") return text(describeLogLevel(sink.filter));
  sink.setFilter(d.filter);
  const log = new Logger(sink, "admin");
  log.info("new log filter", { filter: formatLogFilter(d.filter) });
  let body = describeLogLevel(sink.filter);
  if (d.filter.ignored?.length) {
    const msg = ignoredTargetsMessage(d.filter.ignored);
    log.warn(msg);
    body += `${msg}\n`;
  }
  return text(body);
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

/** The admin server: one listener, or two for `localhost` (127.0.0.1 and ::1). */
export interface AdminServer extends RunningServer {
  /** Every bound address; `addr` is the first. */
  readonly addrs: readonly Deno.NetAddr[];
}

/** A bind error meaning "this host has no such address or family" (no IPv6 on lo), not a real fault. */
function unavailable(e: unknown): boolean {
  return e instanceof Deno.errors.AddrNotAvailable || /\(os error 97\)/.test(errorMessage(e));
}

/**
 * Binds the admin server. `localhost` is ztunnel's Address::Localhost: 127.0.0.1, then ::1 on the same
 * port where the host has IPv6 on loopback (skipped where it has not); any other hostname binds as is.
 */
export function serveAdmin(opts: AdminServerOptions): AdminServer {
  const handler = adminHandler(opts.deps);
  const listen = (hostname: string, port: number) =>
    Deno.serve({ hostname, port, signal: opts.signal, onListen: () => {} }, handler);
  const host = opts.hostname ?? "localhost";
  const first = listen(host === "localhost" ? "127.0.0.1" : host, opts.port ?? 15000);
  const servers = [first];
  if (host === "localhost") {
    try {
      servers.push(listen("::1", first.addr.port));
    } catch (e) {
      if (!unavailable(e)) {
        void first.shutdown();
        throw e;
      }
    }
  }
  return {
    addr: first.addr,
    addrs: servers.map((s) => s.addr),
    shutdown: async () => {
      await Promise.all(servers.map((s) => s.shutdown()));
    },
    finished: Promise.all(servers.map((s) => s.finished)).then(() => {}),
  };
}
