/** SslHandle: the native SSL object and its memory BIOs, usable until freed and freed once. */
import assert from "node:assert/strict";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { TlsContext } from "../../../lib/tunnel/openssl/openssl_context.ts";
import { SslHandle } from "../../../lib/tunnel/openssl/ssl_handle.ts";

Deno.test("ssl handle: a client's first handshake step leaves a ClientHello in the write BIO; freed, it is inert", async () => {
  const pki = await makeTestPki();
  const ctx = TlsContext.create(await pki.issue("demo", "client"), "client");
  try {
    const h = new SslHandle(ctx, "client");
    assert.notEqual(h.ssl, null);
    assert.equal(h.pendingCiphertext(), 0);
    h.lib.ssl.SSL_do_handshake(h.ssl);
    h.lib.crypto.ERR_clear_error();
    const pending = h.pendingCiphertext();
    assert.ok(pending > 0, "the ClientHello waits in the write BIO");
    const buf = new Uint8Array(64 * 1024);
    assert.equal(h.takeCiphertext(buf), pending);
    assert.equal(buf[0], 0x16, "a TLS handshake record");
    assert.equal(h.pendingCiphertext(), 0);
    assert.ok(h.takeCiphertext(buf) <= 0);
    h.free();
    assert.equal(h.ssl, null);
    assert.equal(h.pendingCiphertext(), 0);
    assert.equal(h.takeCiphertext(buf), 0);
    h.feed(new Uint8Array(10), 10); // no-op once freed
    h.free(); // once only
  } finally {
    ctx.close();
    await pki.cleanup();
  }
});
