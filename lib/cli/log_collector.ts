/**
 * Reads a zt process's JSON log lines from a stream and lets callers wait for a matching line: what
 * the demo's nodes and the tests' nodes (on loopback or inside network namespaces) all need.
 */

export type LogRecord = Record<string, unknown>;

export class LogCollector {
  readonly logs: LogRecord[] = [];
  #waiters: Array<{ pred: (l: LogRecord) => boolean; resolve: (l: LogRecord) => void }> = [];
  /** Resolves when the stream has been read to its end. */
  readonly done: Promise<void>;

  constructor(
    stream: ReadableStream<Uint8Array>,
    readonly name: string,
    readonly onLog?: (rec: LogRecord) => void,
  ) {
    this.done = this.#read(stream);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of stream) {
        rest += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = rest.indexOf("\n")) >= 0) {
          this.#line(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      }
    } catch { /* the process was killed */ }
  }

  #line(line: string): void {
    let rec: LogRecord;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = { message: line, raw: true };
    }
    this.logs.push(rec);
    this.onLog?.(rec);
    for (const w of [...this.#waiters]) {
      if (w.pred(rec)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(rec);
      }
    }
  }

  /** The first record at index ≥ `from` matching `pred`, already seen or arriving within `timeoutMs`. */
  waitFor(pred: (l: LogRecord) => boolean, timeoutMs = 10_000, from = 0): Promise<LogRecord> {
    const seen = this.logs.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (l: LogRecord) => {
          clearTimeout(t);
          resolve(l);
        },
      };
      const t = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        const tail = this.logs.slice(-15).map((l) => JSON.stringify(l)).join("\n");
        reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms; last lines:\n${tail}`));
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  /** All records as JSON lines (for failure messages). */
  dump(): string {
    return this.logs.map((l) => JSON.stringify(l)).join("\n");
  }
}
