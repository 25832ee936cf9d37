/**
 * Client streams waiting for their response headers, each with a deadline, on one timer per session
 * (armed for the earliest deadline, only while some stream waits): no timer per request.
 */
import type { H2Stream } from "./stream.ts";

export class ResponseDeadlines {
  #waiting = new Map<H2Stream, { deadline: number; ms: number }>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;

  /** `expire`: a stream's deadline passed without a response. */
  constructor(readonly expire: (stream: H2Stream, timeoutMs: number) => void) {}

  add(stream: H2Stream, ms: number): void {
    const deadline = performance.now() + ms;
    this.#waiting.set(stream, { deadline, ms });
    if (deadline < this.#armedFor) this.#arm(deadline);
  }

  /** The response came, or the stream closed. */
  done(stream: H2Stream): void {
    if (!this.#waiting.delete(stream) || this.#waiting.size > 0) return;
    this.stop();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #arm(deadline: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = deadline;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, deadline - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [s, w] of [...this.#waiting]) {
      if (w.deadline > now) next = Math.min(next, w.deadline);
      else {
        this.#waiting.delete(s);
        this.expire(s, w.ms);
      }
    }
    if (next < Infinity && this.#waiting.size > 0) this.#arm(next);
  }
}
