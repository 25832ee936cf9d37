/** Leased receive buffers: a pool hands them out; H2Stream keeps a lease until its reader releases the bytes. */
import assert from "node:assert/strict";
import { BufferLease, BufferPool } from "../../../lib/tunnel/h2/buffer_lease.ts";
import { H2Stream, type StreamOwner } from "../../../lib/tunnel/h2/stream.ts";

Deno.test("buffer pool: the last release returns the buffer; at most `keep` are kept; clear drops them", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.lease();
  a.retain();
  a.release();
  assert.equal(pool.free, 0, "still held once");
  a.release();
  assert.equal(pool.free, 1);
  assert.equal(pool.lease().buf, a.buf, "the same buffer comes back");
  for (const l of [pool.lease(), pool.lease(), pool.lease()]) l.release();
  assert.equal(pool.free, 2);
  pool.clear();
  assert.equal(pool.free, 0);
});

class CountingLease extends BufferLease {
  refs = 1;
  constructor() {
    super(new Uint8Array(64), new BufferPool(64));
  }
  override retain(): void {
    this.refs++;
  }
  override release(): void {
    this.refs--;
  }
}

function owner(): StreamOwner & { credited: number; refunded: number } {
  return {
    peerMaxFrameSize: 16384,
    connSendWindow: 65535,
    credited: 0,
    refunded: 0,
    write() {},
    writeTwo() {},
    drained: () => undefined,
    waitConnWindow: () => Promise.resolve(),
    credit(_s, n) {
      this.credited += n;
    },
    refund(charge, pinned) {
      this.refunded += charge + pinned;
    },
    answer() {},
    sendRst() {},
    streamClosed() {},
  };
}

Deno.test("h2 stream: a lease is held until every byte of its pieces is released, in order", async () => {
  const o = owner();
  const s = new H2Stream(1, o, 65535);
  const l1 = new CountingLease();
  const l2 = new CountingLease();
  s.onData(l1.buf.subarray(0, 20), false, l1);
  s.onData(l1.buf.subarray(20, 40), false, l1);
  s.onData(l2.buf.subarray(0, 16), false, l2);
  l1.release(); // the socket's own hold ends with its callback
  l2.release();
  assert.equal(l1.refs, 2, "two pieces of l1 handed out");
  for (let i = 0; i < 3; i++) await s.read();
  s.release(30);
  assert.equal(l1.refs, 1, "the first piece is fully released, the second only partly");
  s.release(10);
  assert.equal(l1.refs, 0);
  assert.equal(l2.refs, 1);
  s.release(16);
  assert.equal(l2.refs, 0);
  assert.equal(o.credited, 56);
});

Deno.test("h2 stream: bytes without a lease, then leased ones, are released in order (no early reuse)", async () => {
  const s = new H2Stream(1, owner(), 65535);
  s.onData(new Uint8Array(30), false); // a fresh, unleased chunk
  const l = new CountingLease();
  s.onData(l.buf.subarray(0, 32), false, l);
  l.release();
  await s.read();
  await s.read();
  s.release(30); // the writer finished the unleased piece,
  s.release(2); // and only 2 bytes of the leased one
  assert.equal(l.refs, 1, "the leased piece is still being written: its buffer stays held");
  s.release(30);
  assert.equal(l.refs, 0);
});

Deno.test("h2 stream: a small piece's budget charge is refunded once released, or when the stream fails", async () => {
  const o = owner();
  const s = new H2Stream(1, o, 65535);
  s.onData(new Uint8Array(10), false, undefined, 246);
  s.onData(new Uint8Array(20), false, undefined, 236);
  await s.read();
  s.release(10);
  assert.equal(o.refunded, 246);
  s.fail(new Error("reset"));
  assert.equal(o.refunded, 482, "the queued piece's charge comes back with the failure");
});

Deno.test("h2 stream: after a failure, handed-out pieces keep their lease (a write may still hold them)", async () => {
  const s = new H2Stream(1, owner(), 65535);
  const l = new CountingLease();
  s.onData(l.buf.subarray(0, 20), false, l);
  l.release();
  await s.read();
  s.fail(new Error("reset"));
  s.release(20);
  assert.equal(l.refs, 1, "never returned to the pool");
});
