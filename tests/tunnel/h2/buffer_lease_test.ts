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

function owner(): StreamOwner & { credited: number } {
  return {
    peerMaxFrameSize: 16384,
    connSendWindow: 65535,
    credited: 0,
    write() {},
    writeTwo() {},
    drained: () => undefined,
    waitConnWindow: () => Promise.resolve(),
    credit(_s, n) {
      this.credited += n;
    },
    sendRst() {},
    streamClosed() {},
  };
}

Deno.test("h2 stream: a lease is held until every byte of its pieces is released, in order", async () => {
  const o = owner();
  const s = new H2Stream(1, o, 65535);
  const l1 = new CountingLease();
  const l2 = new CountingLease();
  s.onData(l1.buf.subarray(0, 10), false, l1);
  s.onData(l1.buf.subarray(10, 16), false, l1);
  s.onData(l2.buf.subarray(0, 8), false, l2);
  l1.release(); // the socket's own hold ends with its callback
  l2.release();
  assert.equal(l1.refs, 2, "two pieces of l1 handed out");
  for (let i = 0; i < 3; i++) await s.read();
  s.release(12);
  assert.equal(l1.refs, 1, "the first piece is fully released, the second only partly");
  s.release(4);
  assert.equal(l1.refs, 0);
  assert.equal(l2.refs, 1);
  s.release(8);
  assert.equal(l2.refs, 0);
  assert.equal(o.credited, 24);
});

Deno.test("h2 stream: after a failure, handed-out pieces keep their lease (a write may still hold them)", async () => {
  const s = new H2Stream(1, owner(), 65535);
  const l = new CountingLease();
  s.onData(l.buf.subarray(0, 10), false, l);
  l.release();
  await s.read();
  s.fail(new Error("reset"));
  s.release(10);
  assert.equal(l.refs, 1, "never returned to the pool");
});
