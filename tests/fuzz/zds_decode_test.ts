/** Property: any packet decodes to a valid ZDS message or a typed decode error, never another throw. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzParams } from "./budget.ts";
import {
  type Decoded,
  decodeHello,
  decodeWorkloadRequest,
  decodeWorkloadResponse,
  encodeAck,
  encodeHello,
  encodeWorkloadRequest,
  type ZdsRequest,
} from "../../lib/inpod/zds_messages.ts";

function assertTyped<T>(r: Decoded<T>): void {
  if (!r.ok) {
    assert.equal(r.error.kind, "zds_decode");
    assert.equal(typeof r.error.detail, "string");
  }
}

const text = fc.string({ unit: "grapheme", maxLength: 40 });
const info = fc.record({ name: text, namespace: text, serviceAccount: text }).map((i) => ({ ...i }));
const request: fc.Arbitrary<ZdsRequest> = fc.oneof(
  fc.record({ kind: fc.constant("add" as const), uid: text, info }),
  fc.record({ kind: fc.constant("add" as const), uid: text }),
  fc.record({ kind: fc.constant("keep" as const), uid: text }),
  fc.record({ kind: fc.constant("del" as const), uid: text }),
  fc.constant({ kind: "snapshot_sent" as const }),
).map((r) => ({ ...r }) as ZdsRequest);

/** A valid packet with a few bytes flipped, inserted, dropped or the tail cut. */
const mutated = fc.tuple(
  request.map(encodeWorkloadRequest),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 })), {
    maxLength: 6,
  }),
).map(([bytes, edits]) => {
  const b = [...bytes];
  for (const [at, value, op] of edits) {
    const i = b.length ? at % b.length : 0;
    if (op === 0) b[i] = value;
    else if (op === 1) b.splice(i, 0, value);
    else if (op === 2) b.splice(i, 1);
    else b.length = i;
  }
  return Uint8Array.from(b);
});

Deno.test("fuzz zds: random bytes → a message or a typed decode error", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => {
      assertTyped(decodeWorkloadRequest(bytes));
      assertTyped(decodeWorkloadResponse(bytes));
      assertTyped(decodeHello(bytes));
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz zds: mutated valid requests → a message or a typed decode error", () => {
  fc.assert(
    fc.property(mutated, (bytes) => {
      assertTyped(decodeWorkloadRequest(bytes));
      assertTyped(decodeWorkloadResponse(bytes));
    }),
    fuzzParams(),
  );
});

Deno.test("fuzz zds: every request, ack and hello round-trips and is never an empty packet", () => {
  fc.assert(
    fc.property(request, text, fc.integer({ min: 1, max: 2 ** 31 - 1 }), (req, error, version) => {
      const bytes = encodeWorkloadRequest(req);
      assert.ok(bytes.length > 0);
      assert.deepEqual(decodeWorkloadRequest(bytes), { ok: true, message: req });
      const ack = encodeAck(error);
      assert.ok(ack.length > 0);
      assert.deepEqual(decodeWorkloadResponse(ack), { ok: true, message: { kind: "ack", error } });
      assert.deepEqual(decodeHello(encodeHello(version)), { ok: true, message: { version } });
    }),
    fuzzParams(),
  );
});
