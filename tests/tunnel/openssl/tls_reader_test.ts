/** The receiving half of OpenSslSocket: fresh plaintext buffers, or leased pooled ones once opted in. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { pattern, tlsPair, writeAll } from "./tls_pair.ts";

async function receive(reuse: boolean): Promise<{ leased: number; fresh: number; reused: number }> {
  const pki = await makeTestPki();
  const p = await tlsPair(await pki.issue("demo", "client"), await pki.issue("demo", "server"));
  try {
    if (reuse) p.client.reuseReceiveBuffers();
    const data = pattern(16 << 20, 5);
    const out = new Uint8Array(data.length);
    let off = 0;
    let leased = 0;
    let fresh = 0;
    const ended = new Promise<void>((r) => p.client.on("end", r));
    p.client.on("data", (chunk, lease) => {
      if (lease) leased++;
      else fresh++;
      out.set(chunk, off); // a leased chunk is only valid during the call: copy it out
      off += chunk.length;
    });
    await writeAll(p.server, data, 256 * 1024);
    await ended;
    assert.equal(off, data.length);
    assert.ok(Buffer.compare(out, data) === 0, "byte-exact");
    return { leased, fresh, reused: p.client.reusedBuffers };
  } finally {
    p.close();
    await pki.cleanup();
  }
}

Deno.test("tls reader: without opting in, every chunk is a fresh buffer", async () => {
  const r = await receive(false);
  assert.equal(r.leased, 0);
  assert.ok(r.fresh > 0);
  assert.equal(r.reused, 0);
});

Deno.test("tls reader: opted in, large reads come in leased pooled buffers that are reused", async () => {
  const r = await receive(true);
  assert.ok(r.leased > 0, "some chunks were leased");
  assert.ok(r.reused > 0, "the pool handed a buffer out again");
});
