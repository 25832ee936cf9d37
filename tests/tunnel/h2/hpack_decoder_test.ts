import assert from "node:assert/strict";
import { H2Error, HeaderListTooLargeError } from "../../../lib/tunnel/h2/h2_error.ts";
import { HpackDecoder } from "../../../lib/tunnel/h2/hpack_decoder.ts";

function hex(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function assertCompressionError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof H2Error, `expected H2Error, got ${e}`);
    assert.equal(e.code, 9);
    assert.equal(e.streamId, 0);
    if (message) assert.match(e.message, message);
    return true;
  });
}

Deno.test("RFC 7541 C.2.1: literal with indexing adds to the dynamic table", () => {
  const d = new HpackDecoder();
  const out = d.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
  assert.deepEqual(out, [["custom-key", "custom-header"]]);
  assert.deepEqual(d.dynamicTable(), [["custom-key", "custom-header"]]);
  assert.equal(d.dynamicTableSize, 55);
});

Deno.test("RFC 7541 C.2.2: literal without indexing leaves the table empty", () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex("040c 2f73 616d 706c 652f 7061 7468")), [[":path", "/sample/path"]]);
  assert.equal(d.dynamicTableSize, 0);
  assert.deepEqual(d.dynamicTable(), []);
});

Deno.test("RFC 7541 C.2.3: never-indexed literal with a new name", () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74")), [["password", "secret"]]);
  assert.equal(d.dynamicTableSize, 0);
});

Deno.test("RFC 7541 C.2.4: indexed static field", () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex("82")), [[":method", "GET"]]);
  assert.equal(d.dynamicTableSize, 0);
});

const REQ1 = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]];
const REQ2 = [...REQ1, ["cache-control", "no-cache"]];
const REQ3 = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];
const REQ_TABLES = [
  { size: 57, entries: [[":authority", "www.example.com"]] },
  { size: 110, entries: [["cache-control", "no-cache"], [":authority", "www.example.com"]] },
  {
    size: 164,
    entries: [["custom-key", "custom-value"], ["cache-control", "no-cache"], [
      ":authority",
      "www.example.com",
    ]],
  },
];

function runSequence(
  d: HpackDecoder,
  blocks: string[],
  expected: string[][][],
  tables: Array<{ size: number; entries: string[][] }>,
): void {
  blocks.forEach((b, i) => {
    assert.deepEqual(d.decode(hex(b)), expected[i], `block ${i + 1}`);
    assert.deepEqual(d.dynamicTable(), tables[i].entries, `table after block ${i + 1}`);
    assert.equal(d.dynamicTableSize, tables[i].size, `table size after block ${i + 1}`);
  });
}

Deno.test("RFC 7541 C.3: three requests without Huffman share one dynamic table", () => {
  runSequence(
    new HpackDecoder(),
    [
      "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ],
    [REQ1, REQ2, REQ3],
    REQ_TABLES,
  );
});

Deno.test("RFC 7541 C.4: three requests with Huffman", () => {
  runSequence(
    new HpackDecoder(),
    [
      "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ],
    [REQ1, REQ2, REQ3],
    REQ_TABLES,
  );
});

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOC = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSES = [
  [[":status", "302"], ["cache-control", "private"], ["date", DATE1], ["location", LOC]],
  [[":status", "307"], ["cache-control", "private"], ["date", DATE1], ["location", LOC]],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", DATE2],
    ["location", LOC],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ],
];
const RESPONSE_TABLES = [
  {
    size: 222,
    entries: [["location", LOC], ["date", DATE1], ["cache-control", "private"], [":status", "302"]],
  },
  {
    size: 222,
    entries: [[":status", "307"], ["location", LOC], ["date", DATE1], ["cache-control", "private"]],
  },
  { size: 215, entries: [["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE2]] },
];

Deno.test("RFC 7541 C.5: responses without Huffman, eviction at table size 256", () => {
  runSequence(
    new HpackDecoder(256),
    [
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32" +
      "3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970" +
      "7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61" +
      "6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ],
    RESPONSES,
    RESPONSE_TABLES,
  );
});

Deno.test("RFC 7541 C.6: responses with Huffman, eviction at table size 256", () => {
  runSequence(
    new HpackDecoder(256),
    [
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad" +
      "1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2" +
      "e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ],
    RESPONSES,
    RESPONSE_TABLES,
  );
});

Deno.test("dynamic table size update: multi-byte integer (RFC 7541 C.1.2), eviction, then growth back", () => {
  const d = new HpackDecoder();
  d.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")); // 55 bytes
  // 0x3f 9a 0a = size update to 1337 (5-bit prefix): the entry stays.
  assert.deepEqual(d.decode(hex("3f9a0a 82")), [[":method", "GET"]]);
  assert.equal(d.dynamicTableSize, 55);
  // Two updates at block start: to 0 (evicts all), then back to 4096; then a reference to index 62 fails.
  assert.deepEqual(d.decode(hex("20 3fe11f")), []);
  assert.equal(d.dynamicTableSize, 0);
  assertCompressionError(() => d.decode(hex("be")), /index 62/);
});

Deno.test("an entry larger than the table empties it and is not added", () => {
  const d = new HpackDecoder(64);
  d.decode(hex("4001 61 01 62")); // a: b, 34 bytes
  assert.equal(d.dynamicTableSize, 34);
  // 40 name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"(34) value "" → 66 > 64
  const name = "a".repeat(34);
  const block = new Uint8Array([0x40, 34, ...new TextEncoder().encode(name), 0]);
  assert.deepEqual(d.decode(block), [[name, ""]]);
  assert.equal(d.dynamicTableSize, 0);
  assert.deepEqual(d.dynamicTable(), []);
});

Deno.test("dynamic table keeps order across ring growth and wrap-around", () => {
  const d = new HpackDecoder(4096);
  const enc = new TextEncoder();
  const all: string[] = [];
  // 200 inserts of 40-byte entries (name 4 + value 4 + 32): at most 102 fit, so the ring wraps.
  for (let i = 0; i < 200; i++) {
    const v = String(i).padStart(4, "0");
    all.unshift(v);
    d.decode(new Uint8Array([0x40, 4, ...enc.encode("k-xx"), 4, ...enc.encode(v)]));
  }
  const table = d.dynamicTable();
  assert.equal(table.length, 102);
  assert.equal(d.dynamicTableSize, 102 * 40);
  assert.deepEqual(table.map(([, v]) => v), all.slice(0, 102));
  // Index 62 is the newest, 163 the oldest, 164 is past the end.
  assert.deepEqual(d.decode(new Uint8Array([0xbe, 0xff, 0x24])), [["k-xx", "0199"], ["k-xx", "0098"]]);
  assertCompressionError(() => d.decode(new Uint8Array([0xff, 0x25])));
});

Deno.test("malformed blocks are COMPRESSION_ERROR connection errors", () => {
  const cases: Array<[string, string]> = [
    ["80", "index 0"],
    ["c0", "index 64 beyond an empty table"],
    ["ff", "truncated integer"],
    ["ff ff ff ff ff ff 0f", "integer overflow"],
    ["ff 80 80 80 80 80 80 01", "overlong integer"],
    ["40 05 61 62", "string past the end"],
    ["40", "missing name string"],
    ["41", "missing value string"],
    ["0f 2f 01 61", "name index 62 with an empty table"],
    ["82 20", "size update after a field"],
    ["3f e2 1f", "size update 4097 above the limit"],
    ["40 81 ff 00", "Huffman padding longer than 7 bits"],
    ["40 84 ff ff ff ff 00", "Huffman-coded EOS"],
    ["40 81 18 00", "Huffman padding not all ones"],
  ];
  for (const [h, what] of cases) {
    assert.throws(() => new HpackDecoder().decode(hex(h)), (e: unknown) => {
      assert.ok(e instanceof H2Error, `${what}: expected H2Error, got ${e}`);
      assert.equal(e.code, 9, what);
      assert.equal(e.streamId, 0, what);
      return true;
    }, what);
  }
});

Deno.test("header list over maxHeaderListSize: decoding stops at the field that crosses it", () => {
  const d = new HpackDecoder(4096, 100);
  const enc = new TextEncoder();
  const big = new Uint8Array([0x40, 3, ...enc.encode("big"), 40, ...enc.encode("v".repeat(40))]); // 75
  const small = new Uint8Array([0x40, 1, ...enc.encode("s"), 1, ...enc.encode("t")]); // 34
  const never = new Uint8Array([0x40, 1, ...enc.encode("n"), 1, ...enc.encode("m")]);
  assert.throws(() => d.decode(new Uint8Array([...big, ...small, ...never])), (e: unknown) => {
    assert.ok(e instanceof HeaderListTooLargeError);
    assert.ok(e instanceof H2Error);
    assert.equal(e.code, 0xb, "ENHANCE_YOUR_CALM");
    assert.equal(e.streamId, 0, "a connection error: the table is out of step");
    assert.ok(e.size > 100, `size ${e.size}`);
    assert.equal(e.limit, 100);
    return true;
  });
  assert.ok(!d.dynamicTable().some(([n]) => n === "n"), "nothing after the crossing field was decoded");
});

Deno.test("a string literal longer than the list limit is refused before it is built", () => {
  const d = new HpackDecoder(4096, 1000);
  // Literal without indexing, new name "x", value length 100,000 (integer continuation bytes), raw.
  const value = new Uint8Array(100_000).fill(0x61);
  const block = new Uint8Array([0x00, 1, 0x78, 0x7f, 0xa1, 0x8c, 0x06, ...value]);
  assert.throws(() => d.decode(block), HeaderListTooLargeError);
  // Huffman: 100,000 octets decode to at least 26,666 chars, far over the limit.
  const huff = new Uint8Array([0x00, 1, 0x78, 0xff, 0xa1, 0x8c, 0x06, ...new Uint8Array(100_000).fill(0xff)]);
  assert.throws(() => d.decode(huff), HeaderListTooLargeError);
});

Deno.test("dynamic table size updates are counted per block", () => {
  const d = new HpackDecoder(4096, 1000);
  d.decode(new Uint8Array([0x20, 0x3f, 0xe1, 0x1f, 0x82])); // size 0, size 4096, :method GET
  assert.equal(d.sizeUpdates, 2);
  d.decode(new Uint8Array([0x82]));
  assert.equal(d.sizeUpdates, 0);
});

Deno.test("values are latin1: every octet maps to one char", () => {
  const d = new HpackDecoder();
  const bytes = Array.from({ length: 256 }, (_, i) => i);
  const block = new Uint8Array([0x00, 1, 0x78, 0x7f, 0x81, 0x01, ...bytes]);
  const [[name, value]] = d.decode(block);
  assert.equal(name, "x");
  assert.equal(value.length, 256);
  for (let i = 0; i < 256; i++) assert.equal(value.charCodeAt(i), i);
});
