/**
 * Property-based fuzzing of the HPACK decoder (RFC 7541): random blocks and mutated valid ones (the
 * RFC's Huffman and raw examples, our encoder's output) give a header list or an H2Error, never any
 * other exception or a hang; the list stays within maxHeaderListSize and the dynamic table within its
 * size; what our encoder writes decodes back to the same list.
 */
import fc from "fast-check";
import { fuzzParams } from "./budget.ts";
import { H2Error } from "../../lib/tunnel/h2/h2_error.ts";
import { HpackDecoder, HpackEncoder } from "../../lib/tunnel/h2/hpack.ts";

const hex = (s: string) => new Uint8Array(s.replace(/\s/g, "").match(/../g)!.map((h) => parseInt(h, 16)));

/** RFC 7541 Appendix C blocks: integers, raw and Huffman literals, indexing, eviction. */
const RFC_BLOCKS = [
  "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
  "8286 84be 5808 6e6f 2d63 6163 6865",
  "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
  "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
  "8286 84be 5886 a8eb 1064 9cbf",
  "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
  "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad" +
  "1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
  "4883 640e ffc1 c0bf",
  "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2" +
  "e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  "3fe1 1f82", // size update to 4096, then :method GET
].map(hex);

const LIMIT = 1024;

function listSize(headers: Array<[string, string]>): number {
  return headers.reduce((n, [k, v]) => n + k.length + v.length + 32, 0);
}

/** Decodes; only H2Error may be thrown; a list that comes back is within the limits. */
function decodeChecked(d: HpackDecoder, block: Uint8Array): void {
  let headers: Array<[string, string]>;
  try {
    headers = d.decode(block);
  } catch (e) {
    if (e instanceof H2Error) return;
    throw e;
  }
  if (listSize(headers) > LIMIT) throw new Error(`list of ${listSize(headers)} returned past the limit`);
  if (d.dynamicTableSize > d.maxTableSize) throw new Error(`table at ${d.dynamicTableSize}`);
}

function mutate(data: Uint8Array, edits: Array<[number, number, number]>): Uint8Array {
  const b = [...data];
  for (const [kind, pos, v] of edits) {
    const i = b.length ? pos % b.length : 0;
    if (kind === 0) b[i] = v;
    else if (kind === 1) b.splice(i, 1);
    else b.splice(i, 0, v);
  }
  return new Uint8Array(b);
}

Deno.test("fuzz hpack: random blocks decode to a bounded list or an H2Error", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 5 }), (blocks) => {
      const d = new HpackDecoder(4096, LIMIT);
      for (const b of blocks) decodeChecked(d, b);
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz hpack: mutated RFC 7541 blocks (Huffman, indexing, eviction) on one decoder", () => {
  const edit = fc.tuple(fc.nat(2), fc.nat(), fc.nat(255));
  const seq = fc.array(fc.tuple(fc.nat(RFC_BLOCKS.length - 1), fc.array(edit, { maxLength: 4 })), {
    minLength: 1,
    maxLength: 8,
  });
  fc.assert(
    fc.property(seq, fc.constantFrom(256, 4096), (steps, table) => {
      const d = new HpackDecoder(table, LIMIT);
      for (const [i, edits] of steps) decodeChecked(d, mutate(RFC_BLOCKS[i], edits));
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz hpack: what the encoder writes decodes back to the same list", () => {
  const name = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
  const value = fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\xff]/g, "x"));
  const known = fc.constantFrom<[string, string]>(
    [":method", "CONNECT"],
    [":status", "200"],
    [":path", "/"],
    [
      "accept-encoding",
      "gzip, deflate",
    ],
  );
  const list = fc.array(fc.oneof(known, fc.tuple(name, value)), { maxLength: 12 });
  fc.assert(
    fc.property(list, (headers) => {
      const d = new HpackDecoder(4096, 1 << 20);
      const got = d.decode(new HpackEncoder().encode(headers));
      if (JSON.stringify(got) !== JSON.stringify(headers)) {
        throw new Error(`${JSON.stringify(headers)} came back as ${JSON.stringify(got)}`);
      }
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz hpack: a huge block is refused quickly, whatever it holds", () => {
  fc.assert(
    fc.property(fc.nat(255), fc.boolean(), (fill, huffman) => {
      // A literal whose length claims 1 MiB, then 1 MiB of one byte value.
      const body = new Uint8Array(1 << 20).fill(fill);
      const head = [0x00, 0x01, 0x78, huffman ? 0xff : 0x7f, 0x81, 0xff, 0x3f];
      const block = new Uint8Array(head.length + body.length);
      block.set(head);
      block.set(body, head.length);
      const start = performance.now();
      decodeChecked(new HpackDecoder(4096, LIMIT), block);
      if (performance.now() - start > 500) throw new Error("decoding a refused block took long");
    }),
    fuzzParams(0.05),
  );
});
