/**
 * Receive buffers that go back to their socket once nothing reads them any more, so a bulk transfer
 * does not allocate (and zero-fill) a fresh buffer for every read. A socket hands each chunk out with a
 * lease; whoever keeps a view of the chunk past the "data" callback retains the lease and releases it
 * when done (H2Stream does this per DATA piece, when its reader returns the bytes' window).
 */

export class BufferPool {
  #free: Uint8Array[] = [];

  /** `size`: every pooled buffer's length; at most `keep` free buffers are kept. */
  constructor(readonly size: number, readonly keep = 4) {}

  /** How many leases got a recycled buffer (no allocation). */
  reused = 0;

  /** A lease on a free buffer (or a new one), held once by the caller. */
  lease(): BufferLease {
    const buf = this.#free.pop();
    if (buf !== undefined) this.reused++;
    return new BufferLease(buf ?? new Uint8Array(this.size), this);
  }

  /** Drops the free buffers (a transfer is over: an idle socket keeps nothing). */
  clear(): void {
    this.#free.length = 0;
  }

  put(buf: Uint8Array): void {
    if (this.#free.length < this.keep) this.#free.push(buf);
  }

  get free(): number {
    return this.#free.length;
  }
}

export class BufferLease {
  #refs = 1;
  constructor(readonly buf: Uint8Array, readonly pool: BufferPool) {}

  retain(): void {
    this.#refs++;
  }

  /** The last release returns the buffer to its pool. */
  release(): void {
    if (--this.#refs === 0) this.pool.put(this.buf);
  }
}
