/**
 * Serves the local config file (or directory) as a config source: loads it, watches it, and hands every
 * valid change to `onConfig`. An invalid change is logged and ignored; the last good config stays.
 */
import { errorMessage } from "../error.ts";
import type { Logger } from "../log/logger.ts";
import { type ConfigText, type LocalConfig, parseConfigTexts, readConfigTexts } from "./local_config.ts";

export interface LocalConfigSourceOptions {
  readonly path: string;
  /** Called with each valid changed config after the first (the first is `start()`'s result). */
  readonly onConfig: (cfg: LocalConfig) => void;
  readonly log: Logger;
  /** Quiet period after the last file event before reloading. */
  readonly debounceMs?: number;
}

function fingerprint(texts: readonly ConfigText[]): string {
  return JSON.stringify(texts.map((t) => [t.source, t.text]));
}

function dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : trimmed.slice(0, slash);
}

export class LocalConfigSource {
  readonly #opts: LocalConfigSourceOptions;
  #watcher?: Deno.FsWatcher;
  #loop?: Promise<void>;
  #timer?: ReturnType<typeof setTimeout>;
  #reloading?: Promise<void>;
  #lastText = "";
  #current?: LocalConfig;
  #closed = false;

  constructor(opts: LocalConfigSourceOptions) {
    this.#opts = opts;
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
    this.#watcher = Deno.watchFs(isDir ? path : dirname(path), { recursive: false });
    this.#loop = this.#watch(this.#watcher);
    log.info("local config loaded", {
      path,
      workloads: cfg.workloads.length,
      services: cfg.services.length,
      policies: cfg.policies.length,
    });
    return cfg;
  }

  async #watch(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const _event of watcher) this.#schedule();
    } catch (e) {
      if (!this.#closed) {
        this.#opts.log.error("local config watch failed", { path: this.#opts.path, error: errorMessage(e) });
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const prev = this.#reloading ?? Promise.resolve();
      this.#reloading = prev.then(() => this.#reload());
    }, this.#opts.debounceMs ?? 100);
  }

  async #reload(): Promise<void> {
    if (this.#closed) return;
    const { path, log, onConfig } = this.#opts;
    let cfg: LocalConfig;
    let text: string;
    try {
      const texts = await readConfigTexts(path);
      text = fingerprint(texts);
      if (text === this.#lastText) return;
      cfg = parseConfigTexts(texts);
    } catch (e) {
      if (this.#closed) return;
      log.error("local config rejected; keeping the last good config", { path, error: errorMessage(e) });
      return;
    }
    if (this.#closed) return;
    this.#lastText = text;
    this.#current = cfg;
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
    await this.#loop;
    await this.#reloading;
  }
}
