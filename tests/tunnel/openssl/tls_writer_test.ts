/** The sending half of OpenSslSocket: backpressure at the high-water mark, cork/uncork, end after the data. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { collect, pattern, tlsPair } from "./tls_pair.ts";

Deno.test("tls writer: write() is false past the high-water mark, drain follows, every byte arrives", async () => {
  const pki = await makeTestPki();
  const p = await tlsPair(await pki.issue("demo", "client"), await pki.issue("demo", "server"), {
    highWaterMark: 64 * 1024,
  });
  try {
    const got = collect(p.client);
    const data = pattern(1 << 20, 3);
    const drained = new Promise<void>((r) => p.server.on("drain", r));
    assert.equal(p.server.write(data.subarray(0, 16 * 1024)), true, "below the mark");
    assert.equal(p.server.write(data.subarray(16 * 1024)), false, "past the mark");
    await drained;
    p.server.end();
    assert.ok(Buffer.compare(await got, data) === 0);
  } finally {
    p.close();
    await pki.cleanup();
  }
});

Deno.test("tls writer: nothing leaves while corked; uncork sends it, and flushed callbacks run", async () => {
  const pki = await makeTestPki();
  const p = await tlsPair(await pki.issue("demo", "client"), await pki.issue("demo", "server"));
  try {
    let received = 0;
    p.client.on("data", (c) => (received += c.length));
    let flushed = 0;
    p.server.cork();
    p.server.write(pattern(1000), () => flushed++);
    p.server.write(pattern(1000), () => flushed++);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(flushed, 2, "OpenSSL copied the plaintext");
    assert.equal(received, 0, "corked: the ciphertext stays in the write BIO");
    p.server.uncork();
    for (let i = 0; i < 100 && received < 2000; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(received, 2000);
  } finally {
    p.close();
    await pki.cleanup();
  }
});
