/**
 * What a stream's received-but-unreleased bytes still hold, in arrival order: a buffer lease (the
 * socket's pooled buffer a piece views) and a charge against the connection's DATA-frame budget, given
 * back once all the piece's bytes are released; and, for the stream as a whole, the receive-buffer
 * bytes its small pieces keep alive (the pinning budget), given back each time it has released all.
 *
 * Pieces without a lease or charge are kept only as a running count; the others as flat number
 * records in a reused array (no object per piece: this is on the per-DATA-frame path).
 */
import type { BufferLease } from "./buffer_lease.ts";

/** Receives the charges of pieces fully released (or dropped): the stream's owner, the session. */
export interface Refund {
  refund(charge: number, pinned: number): void;
}

/** Records [bytes left, charge] ... from record #head on; leases by record number. */
const FIELDS = 2;

export class PieceLedger {
  /** Bytes received and not yet released. */
  #unreleased = 0;
  #rec: number[] | undefined;
  #leases: Array<BufferLease | undefined> | undefined;
  #head = 0;
  /** Receive-buffer bytes pinned by pieces since the stream last had nothing unreleased. */
  #pinned = 0;
  /** Records are in use (some unreleased piece holds a lease or a charge). */
  #active = false;

  get unreleased(): number {
    return this.#unreleased;
  }

  /** A piece of n bytes arrived (the lease, if any, is retained here). */
  add(n: number, lease: BufferLease | undefined, charge: number, pinned: number): void {
    this.#pinned += pinned;
    const plain = lease === undefined && charge === 0;
    if (!this.#active) {
      if (plain) {
        this.#unreleased += n;
        return;
      }
      this.#active = true;
      const rec = this.#rec ??= [];
      rec.length = 0;
      this.#head = 0;
      // Bytes that came before records began are released first: one plain record stands for them.
      if (this.#unreleased > 0) rec.push(this.#unreleased, 0);
    }
    const rec = this.#rec!;
    const last = rec.length / FIELDS - 1;
    if (plain && last >= this.#head && rec[last * FIELDS + 1] === 0 && this.#leases?.[last] === undefined) {
      rec[last * FIELDS] += n;
    } else {
      if (lease !== undefined) {
        lease.retain();
        (this.#leases ??= [])[last + 1] = lease;
      }
      rec.push(n, charge);
    }
    this.#unreleased += n;
  }

  /** n bytes were released, oldest first; `refund` receives the charges of pieces now fully released. */
  release(n: number, refund: Refund): void {
    this.#unreleased = Math.max(0, this.#unreleased - n);
    if (this.#unreleased === 0 && this.#pinned > 0) {
      refund.refund(0, this.#pinned);
      this.#pinned = 0;
    }
    if (!this.#active) return;
    const rec = this.#rec!;
    const leases = this.#leases;
    const count = rec.length / FIELDS;
    let h = this.#head;
    while (n > 0 && h < count) {
      const i = h * FIELDS;
      const take = n < rec[i] ? n : rec[i];
      rec[i] -= take;
      n -= take;
      if (rec[i] !== 0) break;
      if (leases !== undefined && leases[h] !== undefined) {
        leases[h]!.release();
        leases[h] = undefined;
      }
      if (rec[i + 1] > 0) refund.refund(rec[i + 1], 0);
      h++;
    }
    if (h >= count) return this.#reset();
    this.#head = h;
    if (h >= 64 && h * 2 >= count) this.#compact();
  }

  /**
   * The stream failed: every charge is refunded; leases are kept (pieces handed out may still sit in a
   * pending socket write, so their buffers must not be reused).
   */
  drop(refund: Refund): void {
    if (this.#active) {
      const rec = this.#rec!;
      for (let i = this.#head * FIELDS; i < rec.length; i += FIELDS) {
        if (rec[i + 1] > 0) refund.refund(rec[i + 1], 0);
      }
    }
    if (this.#pinned > 0) refund.refund(0, this.#pinned);
    this.#pinned = 0;
    this.#reset();
    this.#unreleased = 0;
  }

  #reset(): void {
    this.#active = false;
    this.#head = 0;
    if (this.#rec !== undefined) this.#rec.length = 0;
    this.#leases = undefined;
  }

  /** Drops the records already released (a stream that never fully catches up). */
  #compact(): void {
    const h = this.#head;
    this.#rec!.splice(0, h * FIELDS);
    if (this.#leases !== undefined) this.#leases.splice(0, h);
    this.#head = 0;
  }
}
