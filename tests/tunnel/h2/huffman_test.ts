import assert from "node:assert/strict";
import { H2Error } from "../../../lib/tunnel/h2/h2_error.ts";
import {
  huffmanCode,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "../../../lib/tunnel/h2/huffman.ts";

const enc = new TextEncoder();

function hex(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  return new Uint8Array(h.match(/../g)!.map((x) => parseInt(x, 16)));
}

function decode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanMaxDecodedLength(src.length));
  return out.subarray(0, huffmanDecode(src, 0, src.length, out));
}

/** A bit-at-a-time reference encoder, independent of huffman.ts's byte packing. */
function referenceEncode(data: Uint8Array): Uint8Array {
  const bits: number[] = [];
  for (const b of data) {
    const { code, bits: n } = huffmanCode(b);
    for (let i = n - 1; i >= 0; i--) bits.push(Math.floor(code / 2 ** i) % 2);
  }
  while (bits.length % 8) bits.push(1);
  const out = new Uint8Array(bits.length / 8);
  for (let i = 0; i < bits.length; i++) out[i >> 3] |= bits[i] << (7 - (i & 7));
  return out;
}

// Strings and their Huffman codings from RFC 7541 Appendix C.4 and C.6.
const VECTORS: Array<[string, string]> = [
  ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
  ["no-cache", "a8eb 1064 9cbf"],
  ["custom-key", "25a8 49e9 5ba9 7d7f"],
  ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
  ["302", "6402"],
  ["307", "640e ff"],
  ["private", "aec3 771a 4b"],
  ["Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
  ["https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"],
  ["gzip", "9bd9 ab"],
  [
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ],
];

Deno.test("Huffman: RFC 7541 Appendix C strings encode and decode exactly", () => {
  for (const [text, coded] of VECTORS) {
    const bytes = enc.encode(text);
    assert.deepEqual(huffmanEncode(bytes), hex(coded), text);
    assert.equal(huffmanEncodedLength(bytes), hex(coded).length, text);
    assert.equal(new TextDecoder().decode(decode(hex(coded))), text);
  }
});

Deno.test("Huffman: table spot checks against RFC 7541 Appendix B", () => {
  assert.deepEqual(huffmanCode(0), { code: 0x1ff8, bits: 13 });
  assert.deepEqual(huffmanCode(0x30), { code: 0x0, bits: 5 }); // '0'
  assert.deepEqual(huffmanCode(0x61), { code: 0x3, bits: 5 }); // 'a'
  assert.deepEqual(huffmanCode(0x20), { code: 0x14, bits: 6 }); // ' '
  assert.deepEqual(huffmanCode(0x7e), { code: 0x1ffd, bits: 13 }); // '~'
  assert.deepEqual(huffmanCode(10), { code: 0x3ffffffc, bits: 30 }); // '\n'
  assert.deepEqual(huffmanCode(0xff), { code: 0x3ffffee, bits: 26 });
  assert.deepEqual(huffmanCode(256), { code: 0x3fffffff, bits: 30 }); // EOS
});

Deno.test("Huffman: every byte value and random strings round-trip; matches a bitwise encoder", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(huffmanEncode(all), referenceEncode(all));
  assert.deepEqual(decode(huffmanEncode(all)), all);
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  for (let n = 0; n < 300; n++) {
    const len = rand() % 80;
    // Mostly header-ish ASCII, sometimes any byte.
    const data = Uint8Array.from(
      { length: len },
      () => (rand() % 4 === 0 ? rand() & 0xff : 0x20 + (rand() % 95)),
    );
    const coded = huffmanEncode(data);
    assert.deepEqual(coded, referenceEncode(data));
    assert.deepEqual(decode(coded), data);
  }
});

Deno.test("Huffman: decodes a range inside a larger buffer", () => {
  const coded = hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff");
  const src = new Uint8Array([0xaa, ...coded, 0x00]);
  const out = new Uint8Array(40);
  const n = huffmanDecode(src, 1, 1 + coded.length, out);
  assert.equal(new TextDecoder().decode(out.subarray(0, n)), "www.example.com");
  assert.equal(huffmanDecode(src, 3, 3, out), 0); // empty string
});

Deno.test("Huffman: EOS, over-long padding and non-ones padding are COMPRESSION_ERROR", () => {
  const bad: Array<[string, Uint8Array]> = [
    ["EOS alone", hex("ffff ffff")], // 30 ones + 2 ones of padding
    ["EOS after a symbol", new Uint8Array([0x1f, 0xff, 0xff, 0xff, 0xff])], // 'a' 00011, EOS
    ["8 bits of padding", hex("ff")],
    ["padding after a symbol too long", new Uint8Array([0x1f, 0xff])], // 'a' + 11 one bits
    ["padding with a zero", hex("18")], // 'a' + 000
    ["padding ending in zero", hex("1e")], // 'a' + 110
    ["truncated long code", hex("fffe")], // 15 bits of a 28-bit code + 1 padding bit
  ];
  for (const [what, src] of bad) {
    assert.throws(() => decode(src), (e: unknown) => {
      assert.ok(e instanceof H2Error, what);
      assert.equal(e.code, 9, what);
      return true;
    }, what);
  }
  // Padding of 1..7 ones is fine.
  assert.deepEqual(decode(hex("1f")), enc.encode("a"));
  assert.deepEqual(decode(hex("0007")), enc.encode("00a"));
});
