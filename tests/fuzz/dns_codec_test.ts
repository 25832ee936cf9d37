/**
 * Property-based fuzzing of the DNS codec: any bytes decode or fail with a DnsWireError (never another
 * exception); mutated real packets likewise; generated messages survive encode → decode unchanged; and a
 * size limit is never exceeded, keeps a prefix of the records, and sets TC exactly when answers or
 * authority records were dropped.
 */
import assert from "node:assert/strict";
import { deepEqual as looseEqual } from "node:assert";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { decodeMessage } from "../../lib/dns/dns_decoder.ts";
import { encodeMessage } from "../../lib/dns/dns_encoder.ts";
import { type DnsMessage, type DnsRecord, DnsWireError } from "../../lib/dns/dns_types.ts";
import { labelText } from "../../lib/dns/dns_name.ts";
import { fuzzParams } from "./budget.ts";
import fixtures from "../dns/fixtures/dns_packets.json" with { type: "json" };

const packets = (fixtures as { query: string; response: string; transport: string }[]).flatMap((f) =>
  [f.query, f.response].map((h) => {
    const b = new Uint8Array(Buffer.from(h, "hex"));
    return f.transport === "tcp" ? b.slice(2) : b;
  })
);

function decodesOrRefuses(bytes: Uint8Array): void {
  try {
    decodeMessage(bytes);
  } catch (e) {
    if (!(e instanceof DnsWireError)) throw e;
  }
}

Deno.test("fuzz dns codec: arbitrary bytes decode or are refused with a DnsWireError", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => decodesOrRefuses(b)), fuzzParams());
});

Deno.test("fuzz dns codec: mutated real packets (dig, dnsmasq) decode or are refused", () => {
  const mutation = fc.record({
    packet: fc.integer({ min: 0, max: packets.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  });
  fc.assert(
    fc.property(mutation, ({ packet, edits, cut }) => {
      const b = packets[packet].slice();
      for (const [at, v] of edits) b[at % b.length] = v;
      decodesOrRefuses(cut === undefined ? b : b.subarray(0, cut % (b.length + 1)));
    }),
    fuzzParams(),
  );
});

const label = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => labelText(b, 0, b.length));
const name = fc.array(label, { maxLength: 5 }).map((ls) => ls.join("."));
const record: fc.Arbitrary<DnsRecord> = fc.record({
  name,
  type: fc.constantFrom(1, 16, 28, 99, 65280),
  class: fc.constant(1),
  ttl: fc.nat(),
  data: fc.uint8Array({ maxLength: 40 }),
});
const message: fc.Arbitrary<DnsMessage> = fc.record({
  id: fc.integer({ min: 0, max: 0xffff }),
  qr: fc.boolean(),
  opcode: fc.integer({ min: 0, max: 15 }),
  aa: fc.boolean(),
  tc: fc.constant(false),
  rd: fc.boolean(),
  ra: fc.boolean(),
  ad: fc.boolean(),
  cd: fc.boolean(),
  rcode: fc.integer({ min: 0, max: 15 }),
  questions: fc.array(fc.record({ name, type: fc.integer({ min: 0, max: 0xffff }), class: fc.constant(1) }), {
    maxLength: 2,
  }),
  answers: fc.array(record, { maxLength: 30 }),
  authorities: fc.array(record, { maxLength: 3 }),
  additionals: fc.array(record, { maxLength: 3 }),
  edns: fc.option(
    fc.record({
      udpSize: fc.integer({ min: 0, max: 0xffff }),
      version: fc.constant(0),
      dnssecOk: fc.boolean(),
      extendedRcode: fc.constant(0),
    }),
    { nil: undefined },
  ),
});

Deno.test("fuzz dns codec: encode → decode gives the message back (names, escapes, case, EDNS)", () => {
  fc.assert(
    fc.property(message, (m) => {
      looseEqual(decodeMessage(encodeMessage(m).bytes), m); // loose: fast-check's objects may have no prototype
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz dns codec: a size limit is kept, records are a prefix, TC marks dropped answers", () => {
  fc.assert(
    fc.property(message, fc.integer({ min: 512, max: 1500 }), (m, limit) => {
      const { bytes, truncated } = encodeMessage(m, limit);
      assert.ok(bytes.length <= limit, `${bytes.length} > ${limit}`);
      const back = decodeMessage(bytes);
      const n = back.answers.length + back.authorities.length + back.additionals.length;
      assert.equal(truncated, n < m.answers.length + m.authorities.length + m.additionals.length);
      looseEqual(back.answers, m.answers.slice(0, back.answers.length));
      looseEqual(back.authorities, m.authorities.slice(0, back.authorities.length));
      assert.equal(
        back.tc,
        back.answers.length < m.answers.length || back.authorities.length < m.authorities.length,
      );
      looseEqual(back.edns, m.edns, "the OPT record always fits");
    }),
    fuzzParams(),
  );
});
