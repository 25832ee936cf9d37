/** H2Session (zt's HTTP/2) on both ends of an OpenSslSocket pair: HBONE CONNECT and echo. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { echoStream, readAll } from "../../fakes/h2_streams.ts";
import { makeTestPki } from "../../fakes/test_pki.ts";
import { DEFAULT_H2_OPTIONS, H2Session } from "../../../lib/tunnel/h2/session.ts";
import { pattern, tlsPair } from "./tls_pair.ts";

Deno.test("openssl h2: CONNECT + 4 MiB echo with half-close over OpenSslSocket on both ends", async () => {
  const pki = await makeTestPki();
  const p = await tlsPair(await pki.issue("demo", "client"), await pki.issue("demo", "server"));
  const server = new H2Session(p.server, "server", DEFAULT_H2_OPTIONS);
  const client = new H2Session(p.client, "client", DEFAULT_H2_OPTIONS);
  let authority = "";
  server.onStream = (stream) => {
    authority = stream.requestHeaders.find(([k]) => k === ":authority")?.[1] ?? "";
    server.respond(stream, [[":status", "200"]], false);
    echoStream(stream);
  };
  try {
    const streams = [0, 1, 2].map(() =>
      client.request([[":method", "CONNECT"], [":authority", "10.0.0.9:8080"]])
    );
    const data = pattern(4 << 20, 9);
    const results = await Promise.all(streams.map(async (s) => {
      const headers = await s.response!;
      assert.deepEqual(headers.find(([k]) => k === ":status"), [":status", "200"]);
      const back = readAll(s);
      await s.writeBytes(data);
      s.end();
      return await back;
    }));
    assert.equal(authority, "10.0.0.9:8080");
    for (const r of results) assert.ok(Buffer.compare(r, data) === 0);
    // The H2 sessions opted in to leased receive buffers, and the bulk reads reused them.
    assert.ok(p.server.reusedBuffers + p.client.reusedBuffers > 0, "pooled receive buffers were reused");
    client.close();
    await server.closed;
    await client.closed;
  } finally {
    p.close();
    await pki.cleanup();
  }
});
