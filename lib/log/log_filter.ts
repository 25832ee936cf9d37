/**
 * Log filters in RUST_LOG's syntax (tracing-subscriber's `Targets`, as ztunnel reads RUST_LOG and
 * `/logging?level=`): comma-separated directives, each a bare level (the default) or `target=level`;
 * `target:level` also works (istioctl's `--level access:debug` sends it). A target is one of zt's log
 * scopes (`xds`, `inbound`, …; `a.b` inherits from `a`) or one of ztunnel's tracing targets (Rust module
 * paths such as `ztunnel::proxy::inbound`, plus `access` and `dns`), which stand for the zt scopes doing
 * that module's work. Like tracing, a target covers every module whose path starts with it, and the most
 * specific directive for a scope wins (a zt scope named outright beats any ztunnel path). Targets with no
 * zt counterpart (`hickory_server::server`, typos) are dropped and listed in `ignored`; a bad level is an
 * error.
 */
import { ZtError } from "../error.ts";

export const LEVELS = ["off", "error", "warn", "info", "debug", "trace"] as const;
export type Level = (typeof LEVELS)[number];
export const RANK: Readonly<Record<Level, number>> = {
  off: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  trace: 5,
};

/** zt's log scopes (a scope `a.b` belongs to `a`). */
export const LOG_SCOPES = [
  "zt",
  "xds",
  "inbound",
  "outbound",
  "access",
  "tunnel",
  "policy",
  "identity",
  "admin",
  "capture",
  "inpod",
  "dns",
] as const;

/** ztunnel's tracing targets (module paths) and the zt scopes that do that module's work. */
const ZTUNNEL_TARGETS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ["ztunnel::app", ["zt"]],
  ["ztunnel::signal", ["zt"]],
  ["ztunnel::drain", ["zt"]],
  ["ztunnel::xds", ["xds"]],
  // xDS state and the authorization decisions (`authpol_log!` in src/state.rs)
  ["ztunnel::state", ["xds", "policy"]],
  ["ztunnel::rbac", ["policy"]],
  ["ztunnel::proxy", ["capture"]],
  ["ztunnel::proxy::inbound", ["inbound"]],
  ["ztunnel::proxy::inbound_passthrough", ["inbound"]],
  ["ztunnel::proxy::outbound", ["outbound"]],
  ["ztunnel::proxy::socks5", ["outbound"]],
  ["ztunnel::proxy::pool", ["tunnel"]],
  ["ztunnel::proxy::h2", ["tunnel"]],
  ["ztunnel::tls", ["tunnel"]],
  ["ztunnel::identity", ["identity"]],
  ["ztunnel::admin", ["admin"]],
  ["ztunnel::readiness", ["admin"]],
  ["ztunnel::metrics", ["admin"]],
  ["ztunnel::inpod", ["inpod"]],
  ["ztunnel::dns", ["dns"]],
];

/** A filter: a default level and directives by target, in the order given (later replaced earlier). */
export interface LogFilter {
  readonly defaultLevel: Level;
  readonly components: ReadonlyMap<string, Level>;
  /** Targets of the parsed text that were dropped (no zt counterpart). */
  readonly ignored?: readonly string[];
}

export interface ParseLogFilterOptions {
  /** Directives are merged over this filter (`/logging?level=`); without it, a fresh start (RUST_LOG). */
  readonly base?: LogFilter;
  /**
   * A bare word that is not a level: a target at `trace` (RUST_LOG, as tracing reads it), or an error
   * (`/logging`, as ztunnel's validate_log_level refuses it). Default: `trace` without a base, else error.
   */
  readonly bareTarget?: "trace" | "invalid";
}

function isNativeScope(target: string): boolean {
  const head = target.split(".")[0];
  return (LOG_SCOPES as readonly string[]).includes(head) && /^[a-z0-9_]+(\.[a-z0-9_\-]+)*$/.test(target);
}

/** The zt scopes a ztunnel target covers: every module it prefixes, else its closest known parent. */
export function ztunnelTargetScopes(target: string): readonly string[] {
  const covered = ZTUNNEL_TARGETS.filter(([t]) => t.startsWith(target)).flatMap(([, s]) => s);
  if (covered.length) return [...new Set(covered)];
  const parent = ZTUNNEL_TARGETS.filter(([t]) => target.startsWith(`${t}::`))
    .sort((a, b) => b[0].length - a[0].length)[0];
  return parent ? parent[1] : [];
}

/** True when `target` means something in zt (a scope, or a ztunnel target mapped to scopes). */
export function knownTarget(target: string): boolean {
  return isNativeScope(target) || ztunnelTargetScopes(target).length > 0;
}

/** How specific `target` is for `scope` (higher wins); undefined when it does not apply to it. */
export function targetRank(target: string, scope: string): number | undefined {
  if (target === scope) return Number.MAX_SAFE_INTEGER;
  if (isNativeScope(target)) return undefined;
  return ztunnelTargetScopes(target).includes(scope) ? target.length : undefined;
}

/** The level for `scope` under `f`: the most specific directive for it or its parents, else the default. */
export function levelFor(f: LogFilter, scope: string): Level {
  let s: string | undefined = scope;
  while (s !== undefined) {
    let best: { rank: number; level: Level } | undefined;
    for (const [target, level] of f.components) {
      const rank = targetRank(target, s);
      if (rank !== undefined && (best === undefined || rank >= best.rank)) best = { rank, level };
    }
    if (best) return best.level;
    const dot: number = s.lastIndexOf(".");
    s = dot > 0 ? s.slice(0, dot) : undefined;
  }
  return f.defaultLevel;
}

function parseLevel(s: string, whole: string): Level {
  const l = s.trim().toLowerCase() as Level;
  if (!(l in RANK)) {
    throw new ZtError(
      "config",
      `invalid log level "${s}" in "${whole}" (expected one of ${LEVELS.join(", ")})`,
    );
  }
  return l;
}

/** One directive: `[target, level]`, or `[undefined, level]` for a bare level. */
function parseDirective(part: string, whole: string, bare: "trace" | "invalid"): [string | undefined, Level] {
  const eq = part.indexOf("=");
  if (eq >= 0) {
    const target = part.slice(0, eq).trim();
    if (!target) throw new ZtError("config", `directive "${part}" in "${whole}" has no target`);
    return [target, parseLevel(part.slice(eq + 1), whole)];
  }
  // `target:level`, where the colon is not part of a Rust path's `::`
  const colon = /^(.*[^:]):([^:]+)$/.exec(part);
  if (colon) return [colon[1].trim(), parseLevel(colon[2], whole)];
  const level = part.toLowerCase() as Level;
  if (level in RANK) return [undefined, level];
  if (bare === "trace") return [part, "trace"];
  throw new ZtError(
    "config",
    `level "${part}" in "${whole}" is invalid (expected a level or target=level; levels: ${
      LEVELS.join(", ")
    })`,
  );
}

/**
 * Parses a filter. Throws ZtError(kind "config") for a bad level or directive. Without a base and
 * without a bare level the default is `off`, as tracing's Targets; a blank text is ztunnel's default,
 * `info`.
 */
export function parseLogFilter(spec: string, opts: ParseLogFilterOptions = {}): LogFilter {
  const base = opts.base;
  const bare = opts.bareTarget ?? (base ? "invalid" : "trace");
  const parts = spec.split(",").map((p) => p.trim()).filter(Boolean);
  let defaultLevel: Level = base?.defaultLevel ?? (parts.length === 0 ? "info" : "off");
  const components = new Map(base?.components ?? []);
  const ignored: string[] = [];
  for (const part of parts) {
    const [target, level] = parseDirective(part, spec, bare);
    if (target === undefined) defaultLevel = level;
    else if (!knownTarget(target)) {
      if (!ignored.includes(target)) ignored.push(target);
    } else {
      components.delete(target); // re-added last: the latest of equally specific directives wins
      components.set(target, level);
    }
  }
  return ignored.length ? { defaultLevel, components, ignored } : { defaultLevel, components };
}

/** `info,xds=debug,ztunnel::proxy=trace`: the default first, then the directives in order. */
export function formatLogFilter(f: LogFilter): string {
  return [f.defaultLevel, ...[...f.components].map(([c, l]) => `${c}=${l}`)].join(",");
}

/** The one warning for dropped targets. */
export function ignoredTargetsMessage(ignored: readonly string[]): string {
  return `ignoring log targets with no zt counterpart: ${ignored.join(", ")} ` +
    `(zt's scopes: ${LOG_SCOPES.join(", ")}; or ztunnel's, e.g. ztunnel::proxy, access)`;
}
