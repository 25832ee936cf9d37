/**
 * Read chunks on their way to the frame parser: straight through, or held while reading is paused
 * (the socket was asked to pause, but may still deliver what it already had), up to a byte limit.
 * Leases of held chunks are retained until they are parsed.
 */
import type { BufferLease } from "./buffer_lease.ts";

export class ReadBacklog {
  #held: Array<[Uint8Array, BufferLease | undefined]> = [];
  #bytes = 0;

  /** `parse`: hands a chunk on; `flood`: the held bytes passed `limit`. */
  constructor(
    readonly limit: number,
    readonly parse: (chunk: Uint8Array, lease: BufferLease | undefined) => void,
    readonly flood: () => void,
  ) {}

  offer(chunk: Uint8Array, lease: BufferLease | undefined, paused: boolean): void {
    if (!paused && this.#held.length === 0) return this.parse(chunk, lease);
    lease?.retain();
    this.#held.push([chunk, lease]);
    this.#bytes += chunk.length;
    if (this.#bytes > this.limit) this.flood();
  }

  /** Reading resumed: held chunks go through, in order, while `go()` holds. */
  flush(go: () => boolean): void {
    while (this.#held.length > 0 && go()) {
      const [chunk, lease] = this.#held.shift()!;
      this.#bytes -= chunk.length;
      this.parse(chunk, lease);
      lease?.release();
    }
  }

  clear(): void {
    for (const [, lease] of this.#held) lease?.release();
    this.#held = [];
    this.#bytes = 0;
  }
}
