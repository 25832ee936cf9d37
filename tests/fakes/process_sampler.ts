/** Samples a process's resident memory (VmRSS) and open descriptors from /proc every `intervalMs`. */
export interface Sample {
  readonly at: number;
  readonly rssKiB: number;
  readonly fds: number;
}

export function readSample(pid: number): Sample | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rss = Number(status.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1] ?? NaN);
    let fds = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) fds++;
    return { at: performance.now(), rssKiB: rss, fds };
  } catch {
    return undefined; // the process is gone
  }
}

export class ProcessSampler {
  readonly samples: Sample[] = [];
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly pid: number, intervalMs = 50) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const s = readSample(this.pid);
    if (s) this.samples.push(s);
  }

  /** Samples since `from` (an index: `samples.length` taken earlier). */
  peak(from = 0): { rssKiB: number; fds: number } {
    const w = this.samples.slice(from);
    return {
      rssKiB: Math.max(0, ...w.map((s) => s.rssKiB)),
      fds: Math.max(0, ...w.map((s) => s.fds)),
    };
  }

  get last(): Sample | undefined {
    return this.samples.at(-1);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
