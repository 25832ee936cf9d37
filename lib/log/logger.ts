/**
 * Structured logging with per-component levels, configured with RUST_LOG-style filters
 * (`info`, `info,xds=debug`, `xds:trace,inbound:warn`) and printed plain or as JSON lines
 * in ztunnel's shape: plain `<time>\t<level>\t<scope>\t<message>\t<k=v ...>`, JSON
 * `{"level","time","scope","message",...fields}`.
 */
import { ZtError } from "../error.ts";

export const LEVELS = ["off", "error", "warn", "info", "debug", "trace"] as const;
export type Level = (typeof LEVELS)[number];
const RANK: Record<Level, number> = { off: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 };

export type Fields = Record<string, string | number | boolean | undefined | null>;

export type LogFormat = "plain" | "json";

/** A filter: a default level and per-component overrides. */
export interface LogFilter {
  readonly defaultLevel: Level;
  readonly components: ReadonlyMap<string, Level>;
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

/** Parses `info,xds=debug` or `xds:debug,inbound:warn`. Throws ZtError(kind "config") when invalid. */
export function parseLogFilter(spec: string, base?: LogFilter): LogFilter {
  let defaultLevel: Level = base?.defaultLevel ?? "info";
  const components = new Map(base?.components ?? []);
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.\-]+)\s*[=:]\s*(\w+)$/.exec(part);
    if (m) components.set(m[1], parseLevel(m[2], spec));
    else defaultLevel = parseLevel(part, spec);
  }
  return { defaultLevel, components };
}

export function formatLogFilter(f: LogFilter): string {
  return [f.defaultLevel, ...[...f.components].map(([c, l]) => `${c}=${l}`)].join(",");
}

/** The sink all loggers of a process share; app.ts owns it, tests can capture it. */
export class LogSink {
  #filter: LogFilter;
  #initial: LogFilter;
  #cache = new Map<string, number>();
  constructor(
    filter: LogFilter,
    readonly format: LogFormat = "plain",
    readonly write: (line: string) => void = defaultWrite,
  ) {
    this.#filter = filter;
    this.#initial = filter;
  }
  get filter(): LogFilter {
    return this.#filter;
  }
  setFilter(f: LogFilter): void {
    this.#filter = f;
    this.#cache.clear();
  }
  reset(): void {
    this.setFilter(this.#initial);
  }
  /** The numeric threshold for a scope; `a.b` inherits from `a`. */
  threshold(scope: string): number {
    let t = this.#cache.get(scope);
    if (t !== undefined) return t;
    let s: string | undefined = scope;
    let level: Level | undefined;
    while (s !== undefined && level === undefined) {
      level = this.#filter.components.get(s);
      const dot: number = s.lastIndexOf(".");
      s = dot > 0 ? s.slice(0, dot) : undefined;
    }
    t = RANK[level ?? this.#filter.defaultLevel];
    this.#cache.set(scope, t);
    return t;
  }
  emit(level: Exclude<Level, "off">, scope: string, message: string, fields?: Fields): void {
    const time = new Date().toISOString();
    if (this.format === "json") {
      const obj: Record<string, unknown> = { level, time, scope, message };
      if (fields) {
        for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) obj[k] = v;
      }
      this.write(JSON.stringify(obj));
      return;
    }
    let line = `${time}\t${level}\t${scope}\t${message}`;
    if (fields) {
      const parts: string[] = [];
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined || v === null) continue;
        parts.push(typeof v === "string" ? `${k}=${quote(v)}` : `${k}=${v}`);
      }
      if (parts.length) line += `\t${parts.join(" ")}`;
    }
    this.write(line);
  }
}

function quote(v: string): string {
  return /^[A-Za-z0-9_.:\/\-\[\]]+$/.test(v) ? v : JSON.stringify(v);
}

const encoder = new TextEncoder();
function defaultWrite(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** A logger for one scope (component), e.g. `xds`, `inbound`, `access`. */
export class Logger {
  constructor(readonly sink: LogSink, readonly scope: string) {}
  child(scope: string): Logger {
    return new Logger(this.sink, scope);
  }
  enabled(level: Exclude<Level, "off">): boolean {
    return RANK[level] <= this.sink.threshold(this.scope);
  }
  error(message: string, fields?: Fields): void {
    if (this.enabled("error")) this.sink.emit("error", this.scope, message, fields);
  }
  warn(message: string, fields?: Fields): void {
    if (this.enabled("warn")) this.sink.emit("warn", this.scope, message, fields);
  }
  info(message: string, fields?: Fields): void {
    if (this.enabled("info")) this.sink.emit("info", this.scope, message, fields);
  }
  debug(message: string, fields?: Fields): void {
    if (this.enabled("debug")) this.sink.emit("debug", this.scope, message, fields);
  }
  trace(message: string, fields?: Fields): void {
    if (this.enabled("trace")) this.sink.emit("trace", this.scope, message, fields);
  }
}

/** A logger that drops everything (for pure-function tests and tools). */
export function silentLogger(scope = "test"): Logger {
  return new Logger(new LogSink({ defaultLevel: "off", components: new Map() }, "plain", () => {}), scope);
}
