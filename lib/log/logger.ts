/**
 * Structured logging with per-scope levels, configured with RUST_LOG filters (lib/log/log_filter.ts:
 * `info`, `info,xds=debug`, `ztunnel::proxy=debug,info`) and printed plain or as JSON lines in
 * ztunnel's shape: plain `<time>\t<level>\t<scope>\t<message>\t<k=v ...>`, JSON
 * `{"level","time","scope","message",...fields}`.
 */
import { ignoredTargetsMessage, type Level, levelFor, type LogFilter, RANK } from "./log_filter.ts";

export {
  formatLogFilter,
  ignoredTargetsMessage,
  type Level,
  levelFor,
  LEVELS,
  LOG_SCOPES,
  type LogFilter,
  parseLogFilter,
  type ParseLogFilterOptions,
} from "./log_filter.ts";

export type Fields = Record<string, string | number | boolean | undefined | null>;

export type LogFormat = "plain" | "json";

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
    // The filter's own problem is reported whatever the filter says (it may be `off`).
    if (filter.ignored?.length) this.emit("warn", "zt", ignoredTargetsMessage(filter.ignored));
  }
  get filter(): LogFilter {
    return this.#filter;
  }
  /** The filter the sink started with (what `reset` restores). */
  get initial(): LogFilter {
    return this.#initial;
  }
  setFilter(f: LogFilter): void {
    this.#filter = f;
    this.#cache.clear();
  }
  reset(): void {
    this.setFilter(this.#initial);
  }
  /** The numeric threshold for a scope (lib/log/log_filter.ts levelFor; `a.b` inherits from `a`). */
  threshold(scope: string): number {
    let t = this.#cache.get(scope);
    if (t === undefined) {
      t = RANK[levelFor(this.#filter, scope)];
      this.#cache.set(scope, t);
    }
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
