/**
 * Interop: our frame codec and HPACK against a real HTTP/2 server (node:http2, h2c on loopback),
 * over a plain TCP socket. The server's HPACK encoder uses Huffman strings and its dynamic table,
 * so decoding two responses in a row exercises both.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import {
  CONNECTION_PREFACE,
  decodeSettings,
  encodeGoaway,
  encodeHeaders,
  encodeSettings,
  encodeSettingsAck,
  ErrorCode,
  Flag,
  FrameType,
  Setting,
} from "../../../lib/tunnel/h2/frame.ts";
import { FrameParser } from "../../../lib/tunnel/h2/frame_parser.ts";
import { HpackDecoder, HpackEncoder } from "../../../lib/tunnel/h2/hpack.ts";

const LONG_VALUE = "a-long-value-that-huffman-codes";

interface Response {
  headers?: Array<[string, string]>;
  blockLength?: number;
  body: string;
  ended: boolean;
}

Deno.test("interop: CONNECT through node:http2, responses decoded with FrameParser + HpackDecoder", async () => {
  const server = http2.createServer();
  const seen: Array<Record<string, unknown>> = [];
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    seen.push({ ...headers });
    stream.respond({ ":status": 200, "x-test": LONG_VALUE, "x-authority": String(headers[":authority"]) });
    stream.end(`hello ${headers[":authority"]}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });

  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const responses = new Map<number, Response>();
  let serverSettings: Array<[number, number]> | undefined;
  let settingsAcked = false;
  const writes: Promise<number>[] = [];
  const send = (b: Uint8Array) => writes.push(conn.write(b));
  const request = (id: number) =>
    encodeHeaders(
      id,
      encoder.encode([[":method", "CONNECT"], [":authority", `127.0.0.1:${port + id}`]]),
      false,
      16384,
    );
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));

  const parser = new FrameParser({
    onFrame(type, flags, id, payload) {
      if (type === FrameType.SETTINGS) {
        if (flags & Flag.ACK) settingsAcked = true;
        else {
          serverSettings = decodeSettings(payload);
          send(encodeSettingsAck());
        }
      } else if (type === FrameType.HEADERS) {
        assert.ok(flags & Flag.END_HEADERS, "small response fits one frame");
        const r = responses.get(id) ?? { body: "", ended: false };
        r.headers = decoder.decode(payload);
        r.blockLength = payload.length;
        responses.set(id, r);
      }
    },
    onData(id, data, endStream) {
      const r = responses.get(id)!;
      r.body += new TextDecoder().decode(data);
      if (!endStream) return;
      r.ended = true;
      if (id === 1) send(request(3)); // second request: the server now encodes from its dynamic table
      else done();
    },
  });

  send(
    new Uint8Array([
      ...CONNECTION_PREFACE,
      ...encodeSettings([[Setting.ENABLE_PUSH, 0], [Setting.INITIAL_WINDOW_SIZE, 1 << 20]]),
      ...request(1),
    ]),
  );
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      parser.push(buf.slice(0, n)); // the parser may keep views: give it its own chunk
    }
  })();

  const timeout = setTimeout(() => done(), 5000);
  await finished;
  clearTimeout(timeout);
  send(encodeGoaway(0, ErrorCode.NO_ERROR));
  await Promise.all(writes);
  conn.close();
  await reading.catch(() => {}); // reading a closed conn rejects
  await new Promise<void>((resolve) => server.close(() => resolve()));

  assert.ok(serverSettings, "server SETTINGS received");
  assert.ok(settingsAcked, "server acknowledged our SETTINGS");
  assert.equal(seen.length, 2);
  assert.equal(seen[0][":method"], "CONNECT");
  assert.equal(seen[0][":authority"], `127.0.0.1:${port + 1}`);
  assert.equal(seen[1][":authority"], `127.0.0.1:${port + 3}`);
  for (const id of [1, 3]) {
    const r = responses.get(id);
    assert.ok(r?.headers, `response on stream ${id}`);
    const h = new Map(r.headers);
    assert.equal(h.get(":status"), "200");
    assert.equal(h.get("x-test"), LONG_VALUE);
    assert.equal(h.get("x-authority"), `127.0.0.1:${port + id}`);
    assert.equal(r.body, `hello 127.0.0.1:${port + id}`);
    assert.ok(r.ended);
  }
  // The server indexed its headers: the second block references our decoder's dynamic table (it is
  // smaller even when node's date header changed between the two responses and had to be re-sent).
  assert.ok(responses.get(3)!.blockLength! < responses.get(1)!.blockLength!);
  assert.ok(decoder.dynamicTable().some(([n, v]) => n === "x-test" && v === LONG_VALUE));
});
