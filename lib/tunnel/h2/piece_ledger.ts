/**
 * What a stream's received-but-unreleased bytes still hold, in arrival order: a buffer lease (the
 * socket's pooled buffer a piece views) and/or a charge against the connection's DATA-frame budget.
 * Releasing bytes (in order) gives each piece's lease and charge back once all its bytes are released.
 * Pieces with neither are kept only as a running count, so the bulk path allocates nothing here.
 */
import type { BufferLease } from "./buffer_lease.ts";

interface Piece {
  left: number;
  lease?: BufferLease;
  charge: number;
}

export class PieceLedger {
  /** Bytes received and not yet released. */
  #unreleased = 0;
  /** Records while any unreleased piece holds a lease or a charge; else undefined. */
  #pieces: Piece[] | undefined;

  get unreleased(): number {
    return this.#unreleased;
  }

  /** A piece of n bytes arrived (the lease, if any, is retained here). */
  add(n: number, lease: BufferLease | undefined, charge: number): void {
    if (lease !== undefined || charge > 0 || this.#pieces !== undefined) {
      let pieces = this.#pieces;
      if (pieces === undefined) {
        // Bytes that came before records began are released first: one plain record stands for them.
        pieces = this.#pieces = this.#unreleased > 0 ? [{ left: this.#unreleased, charge: 0 }] : [];
      }
      lease?.retain();
      const tail = pieces[pieces.length - 1];
      const plain = lease === undefined && charge === 0;
      if (plain && tail !== undefined && tail.lease === undefined && tail.charge === 0) tail.left += n;
      else pieces.push({ left: n, lease, charge });
    }
    this.#unreleased += n;
  }

  /** n bytes were released, oldest first; `refund` receives the charges of pieces now fully released. */
  release(n: number, refund: (charge: number) => void): void {
    this.#unreleased = Math.max(0, this.#unreleased - n);
    const pieces = this.#pieces;
    if (pieces === undefined) return;
    while (n > 0 && pieces.length > 0) {
      const head = pieces[0];
      const take = Math.min(n, head.left);
      head.left -= take;
      n -= take;
      if (head.left === 0) {
        pieces.shift();
        head.lease?.release();
        if (head.charge > 0) refund(head.charge);
      }
    }
    if (pieces.length === 0) this.#pieces = undefined;
  }

  /**
   * The stream failed: every charge is refunded; leases are kept (pieces handed out may still sit in a
   * pending socket write, so their buffers must not be reused).
   */
  drop(refund: (charge: number) => void): void {
    const pieces = this.#pieces;
    this.#pieces = undefined;
    this.#unreleased = 0;
    if (pieces) { for (const p of pieces) if (p.charge > 0) refund(p.charge); }
  }
}
