/**
 * istio-cni's ZDS server for end-to-end tests: the independent Python peer (tests/peers/zds_server.py)
 * as a child process, its JSON-line events collected, commands written to its stdin.
 */
import { LineReader } from "./netns.ts";

const PEER = new URL("../peers/zds_server.py", import.meta.url).pathname;

export interface ZdsPod {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** /var/run/netns/<pod> */
  readonly netns: string;
}

export type ZdsEvent = Record<string, unknown> & { event: string };

export class ZdsPeer {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly events: ZdsEvent[] = [];
  readonly #waiters: Array<{ pred: (e: ZdsEvent) => boolean; resolve: (e: ZdsEvent) => void }> = [];
  readonly done: Promise<void>;

  constructor(readonly path: string, pods: readonly ZdsPod[]) {
    this.#child = new Deno.Command("python3", {
      args: [PEER, "--path", path, "--pods", JSON.stringify(pods)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.done = this.#read(new LineReader(this.#child.stdout));
  }

  async #read(lines: LineReader): Promise<void> {
    for (;;) {
      let line: string;
      try {
        line = await lines.waitFor(() => true, 3_600_000);
      } catch {
        return;
      }
      const e = JSON.parse(line) as ZdsEvent;
      this.events.push(e);
      for (const w of [...this.#waiters]) {
        if (w.pred(e)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    }
  }

  /** The first event (already seen from `from`, or arriving) matching `pred`. */
  waitFor(pred: (e: ZdsEvent) => boolean, timeoutMs = 15_000, from = 0): Promise<ZdsEvent> {
    const seen = this.events.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.#waiters.push(w);
      setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        reject(
          new Error(`no ZDS event within ${timeoutMs} ms; got ${JSON.stringify(this.events.slice(-5))}`),
        );
      }, timeoutMs);
    });
  }

  async command(cmd: Record<string, unknown>): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
  }

  /** Kills the peer (as istio-cni restarting); its listener goes with it. */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#child.status;
    await this.#stdin.close().catch(() => {});
    await this.done;
  }
}
