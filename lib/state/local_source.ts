/**
 * Serves the local config file (or directory) as a config source: loads it, watches it, and hands every
 * valid change to `onConfig`. After the start, nothing that goes wrong loses the last good config:
 * - a failed read (EMFILE, a missing file, permission denied, I/O) is logged, counted (`read`) and
 *   retried with a backoff (retryMs, doubling up to maxRetryMs) until a read succeeds;
 * - invalid content (a half-written file, a typo) is logged and counted once per distinct content
 *   (`invalid`) and read once more after the backoff, in case it was still being written;
 * - a file that is empty is taken for one being written: applied only if still empty when read again;
 * - a watch that fails or ends (its directory removed or renamed; no inotify instance under fd
 *   exhaustion) is counted (`watch`) and re-established with the same backoff, then the config is re-read.
 */
import { resolve } from "node:path";
import { errorMessage } from "../error.ts";
import type { Logger } from "../log/logger.ts";
import { type ConfigText, type LocalConfig, parseConfigTexts, readConfigTexts } from "./local_config.ts";

/** What went wrong, as counted: an unreadable config, rejected content, a lost watch. */
export type LocalConfigFailure = "read" | "invalid" | "watch";

export interface LocalConfigSourceOptions {
  readonly path: string;
  /** Called with each valid changed config after the first (the first is `start()`'s result). */
  readonly onConfig: (cfg: LocalConfig) => void;
  readonly log: Logger;
  /** Quiet period after the last file event before reloading. */
  readonly debounceMs?: number;
  /** Called for each failed read, each distinct rejected content and each lost watch. */
  readonly onFailure?: (kind: LocalConfigFailure) => void;
  /** First retry after a failure (default 250 ms); doubles with each failure up to maxRetryMs (10 s). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

/** What one read of the config found; `#act` decides what follows from it. */
type ReadOutcome =
  | { readonly kind: "unreadable"; readonly error: string }
  | { readonly kind: "unchanged" }
  | { readonly kind: "settling"; readonly text: string }
  | { readonly kind: "invalid"; readonly text: string; readonly error: string }
  | { readonly kind: "valid"; readonly text: string; readonly cfg: LocalConfig };

function fingerprint(texts: readonly ConfigText[]): string {
  return JSON.stringify(texts.map((t) => [t.source, t.text]));
}

function dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : trimmed.slice(0, slash);
}

/** The names a watch event may give the watched directory itself. */
function namesOf(dir: string): Set<string> {
  const names = new Set([dir, resolve(dir)]);
  try {
    names.add(Deno.realPathSync(dir));
  } catch {
    // gone already: the other names will do
  }
  return names;
}

export class LocalConfigSource {
  readonly #opts: LocalConfigSourceOptions;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  #watcher?: Deno.FsWatcher;
  #loop?: Promise<void>;
  /** The next reload: after the debounce of a file event, or a retry. */
  #timer?: ReturnType<typeof setTimeout>;
  #reloading?: Promise<void>;
  /** Ends the watch loop's wait before re-establishing (on close). */
  #wake?: () => void;
  #retryDelay: number;
  #lastText = "";
  #current?: LocalConfig;
  /** The content last rejected (reported once) and the empty content seen once (applied if seen again). */
  #rejectedText?: string;
  #settlingText?: string;
  #readFailures = 0;
  #readError?: string;
  #closed = false;

  constructor(opts: LocalConfigSourceOptions) {
    this.#opts = opts;
    this.#retryMs = opts.retryMs ?? 250;
    this.#maxRetryMs = Math.max(this.#retryMs, opts.maxRetryMs ?? 10_000);
    this.#retryDelay = this.#retryMs;
  }

  /** The last good config. */
  get current(): LocalConfig | undefined {
    return this.#current;
  }

  /** Loads the config (throwing on a bad one) and starts watching. */
  async start(): Promise<LocalConfig> {
    const { path, log } = this.#opts;
    const texts = await readConfigTexts(path);
    const cfg = parseConfigTexts(texts);
    this.#lastText = fingerprint(texts);
    this.#current = cfg;
    const isDir = (await Deno.stat(path)).isDirectory;
    // Watch the directory: editors and ConfigMap updates replace files by rename.
    const dir = isDir ? path : dirname(path);
    const watcher = Deno.watchFs(dir, { recursive: false });
    this.#loop = this.#watchLoop(dir, watcher);
    log.info("local config loaded", {
      path,
      workloads: cfg.workloads.length,
      services: cfg.services.length,
      policies: cfg.policies.length,
    });
    return cfg;
  }

  /** Watches `dir` until closed, re-establishing the watch whenever it fails or ends. */
  async #watchLoop(dir: string, first: Deno.FsWatcher): Promise<void> {
    let watcher: Deno.FsWatcher | undefined = first;
    let delay = this.#retryMs;
    while (!this.#closed) {
      let why = "the watch ended";
      if (!watcher) {
        try {
          watcher = Deno.watchFs(dir, { recursive: false });
        } catch (e) {
          why = `cannot watch ${dir}: ${errorMessage(e)}`;
        }
      }
      if (watcher) {
        if (watcher !== first) {
          this.#opts.log.info("local config watch re-established", { path: dir });
          this.#schedule(); // changes made while there was no watch
        }
        this.#watcher = watcher;
        delay = this.#retryMs;
        try {
          why = await this.#events(watcher, namesOf(dir));
        } catch (e) {
          why = errorMessage(e);
        }
        try {
          watcher.close();
        } catch {
          // already closed
        }
        this.#watcher = watcher = undefined;
      }
      if (this.#closed) return;
      this.#opts.onFailure?.("watch");
      this.#opts.log.warn("local config watch lost; re-establishing it", {
        path: dir,
        error: why,
        retry_in_ms: delay,
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => (clearTimeout(timer), resolve());
      });
      this.#wake = undefined;
      delay = Math.min(delay * 2, this.#maxRetryMs);
    }
  }

  /** Schedules a reload per event; returns why the watch ended (its directory went away, or it stopped). */
  async #events(watcher: Deno.FsWatcher, dirNames: Set<string>): Promise<string> {
    for await (const event of watcher) {
      if (event.kind === "remove" && event.paths.some((p) => dirNames.has(p))) {
        return "the watched directory was removed or renamed";
      }
      this.#schedule();
    }
    return "the watch ended";
  }

  #schedule(): void {
    this.#arm(this.#opts.debounceMs ?? 100, true);
  }

  /** Retries after the current backoff, which doubles (unless a reload is already due). */
  #retry(): number {
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(delay * 2, this.#maxRetryMs);
    this.#arm(delay, false);
    return delay;
  }

  #arm(ms: number, replace: boolean): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) {
      if (!replace) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const prev = this.#reloading ?? Promise.resolve();
      this.#reloading = prev.then(() => this.#reload());
    }, ms);
  }

  async #reload(): Promise<void> {
    if (this.#closed) return;
    const outcome = await this.#read();
    if (!this.#closed) this.#act(outcome);
  }

  async #read(): Promise<ReadOutcome> {
    let texts: ConfigText[];
    try {
      texts = await readConfigTexts(this.#opts.path);
    } catch (e) {
      return { kind: "unreadable", error: errorMessage(e) };
    }
    const text = fingerprint(texts);
    if (text === this.#lastText) return { kind: "unchanged" };
    if (texts.some((t) => t.text.trim() === "") && text !== this.#settlingText) {
      return { kind: "settling", text };
    }
    try {
      return { kind: "valid", text, cfg: parseConfigTexts(texts) };
    } catch (e) {
      return { kind: "invalid", text, error: errorMessage(e) };
    }
  }

  #act(o: ReadOutcome): void {
    const { path, log } = this.#opts;
    if (o.kind === "unreadable") {
      this.#readFailures++;
      this.#opts.onFailure?.("read");
      const retry_in_ms = this.#retry();
      const fields = { path, error: o.error, failed_reads: this.#readFailures, retry_in_ms };
      // The first failure of a run, or a new error, at error level; repeats at debug (they are counted).
      if (o.error !== this.#readError) {
        log.error("local config unreadable; keeping the last good config", fields);
      } else log.debug("local config still unreadable", fields);
      this.#readError = o.error;
      return;
    }
    if (this.#readFailures > 0) {
      log.info("local config readable again", { path, failed_reads: this.#readFailures });
      this.#readFailures = 0;
      this.#readError = undefined;
    }
    if (o.kind === "unchanged") {
      this.#retryDelay = this.#retryMs;
    } else if (o.kind === "settling") {
      this.#settlingText = o.text;
      log.info("local config has an empty file; reading it again before applying it", {
        path,
        retry_in_ms: this.#retry(),
      });
    } else if (o.kind === "invalid") {
      if (o.text === this.#rejectedText) return; // reported already; the next change is read as usual
      this.#rejectedText = o.text;
      this.#opts.onFailure?.("invalid");
      log.error("local config rejected; keeping the last good config", { path, error: o.error });
      this.#retry(); // a half-written file may be complete by then
    } else {
      this.#apply(o.text, o.cfg);
    }
  }

  #apply(text: string, cfg: LocalConfig): void {
    const { path, log, onConfig } = this.#opts;
    this.#lastText = text;
    this.#current = cfg;
    this.#rejectedText = this.#settlingText = undefined;
    this.#retryDelay = this.#retryMs;
    log.info("local config reloaded", {
      path,
      workloads: cfg.workloads.length,
      services: cfg.services.length,
      policies: cfg.policies.length,
    });
    try {
      onConfig(cfg);
    } catch (e) {
      log.error("applying local config failed", { path, error: errorMessage(e) });
    }
  }

  /** Stops watching; resolves once the watcher and any reload in flight have finished. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    this.#wake?.();
    await this.#loop;
    await this.#reloading;
  }
}
