import assert from "node:assert/strict";
import { H2Error } from "../../../lib/tunnel/h2/h2_error.ts";
import { HpackDecoder, HpackEncoder } from "../../../lib/tunnel/h2/hpack.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

Deno.test("encoder: full static matches are one indexed byte", () => {
  const e = new HpackEncoder();
  assert.deepEqual(e.encode([[":status", "200"]]), bytes(0x88));
  assert.deepEqual(e.encode([[":status", "400"]]), bytes(0x8c));
  assert.deepEqual(
    e.encode([[":method", "GET"], [":scheme", "https"], [":path", "/"]]),
    bytes(0x82, 0x87, 0x84),
  );
  assert.deepEqual(e.encode([[":authority", ""]]), bytes(0x81));
  assert.deepEqual(e.encode([["accept-encoding", "gzip, deflate"]]), bytes(0x90));
});

Deno.test("encoder: static name with another value is a literal without indexing, name indexed", () => {
  const e = new HpackEncoder();
  // :method is index 2 (4-bit prefix), value "CONNECT".
  assert.deepEqual(e.encode([[":method", "CONNECT"]]), bytes(0x02, 7, ...ascii("CONNECT")));
  assert.deepEqual(e.encode([[":status", "401"]]), bytes(0x08, 3, ...ascii("401")));
  // www-authenticate (61) needs a multi-byte index: 15 + 46.
  assert.deepEqual(e.encode([["www-authenticate", "x"]]), bytes(0x0f, 46, 1, ...ascii("x")));
});

Deno.test("encoder: unknown name is a literal without indexing with a literal name", () => {
  const e = new HpackEncoder();
  assert.deepEqual(e.encode([["baggage", "k=v"]]), bytes(0x00, 7, ...ascii("baggage"), 3, ...ascii("k=v")));
  // A value of 200 bytes: length 127 + 73 in two bytes.
  const long = "v".repeat(200);
  const out = e.encode([["x-long", long]]);
  assert.deepEqual(out.subarray(0, 10), bytes(0x00, 6, ...ascii("x-long"), 0x7f, 73));
  assert.equal(out.length, 10 + 200);
});

Deno.test("encoder leaves the dynamic table alone: the decoder's stays empty", () => {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  const headers: Array<[string, string]> = [[":status", "503"], ["x-a", "b"]];
  for (let i = 0; i < 3; i++) assert.deepEqual(d.decode(e.encode(headers)), headers);
  assert.equal(d.dynamicTableSize, 0);
});

Deno.test("encoder → decoder round trip: HBONE CONNECT request and responses", () => {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  const request: Array<[string, string]> = [
    [":method", "CONNECT"],
    [":authority", "10.0.3.17:8080"],
    [":scheme", "https"],
    [":path", "/"],
    ["baggage", "k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=sleep"],
    ["forwarded", "for=10.0.1.5"],
    ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
  ];
  assert.deepEqual(d.decode(e.encode(request)), request);
  for (const status of ["200", "400", "401", "503"]) {
    const response: Array<[string, string]> = [[":status", status], ["server", "zt"]];
    assert.deepEqual(d.decode(e.encode(response)), response);
  }
  assert.deepEqual(d.decode(e.encode([])), []);
  // Latin1 and long strings survive too.
  const odd: Array<[string, string]> = [["x-latin1", "caf\u00e9 \u00ff\u0000"], ["x-big", "z".repeat(70000)]];
  assert.deepEqual(new HpackDecoder(4096, 1 << 20).decode(e.encode(odd)), odd);
});

Deno.test("encoder rejects uppercase names and non-latin1 strings", () => {
  const e = new HpackEncoder();
  for (const h of [["X-Test", "v"], ["x-test", "\u20ac"], ["na\u0100me", "v"]] as Array<[string, string]>) {
    assert.throws(() => e.encode([h]), (err: unknown) => {
      assert.ok(err instanceof H2Error);
      assert.equal(err.code, 2);
      return true;
    });
  }
});
