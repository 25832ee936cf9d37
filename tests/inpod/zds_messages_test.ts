/** The ZDS codec against the bytes of the facts table (§2.3), both directions, and proto3's decoding rules. */
import assert from "node:assert/strict";
import {
  decodeHello,
  decodeWorkloadRequest,
  decodeWorkloadResponse,
  encodeAck,
  encodeHello,
  encodeWorkloadRequest,
  type ZdsRequest,
} from "../../lib/inpod/zds_messages.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

const ADD_U1 = "0a 11 0a 02 75 31 12 0b 0a 01 6e 12 02 6e 73 1a 02 73 61";
const TABLE: ReadonlyArray<[string, ZdsRequest]> = [
  ["1a 00", { kind: "snapshot_sent" }],
  ["2a 04 0a 02 75 31", { kind: "keep", uid: "u1" }],
  ["12 04 12 02 75 31", { kind: "del", uid: "u1" }],
  [ADD_U1, { kind: "add", uid: "u1", info: { name: "n", namespace: "ns", serviceAccount: "sa" } }],
];

Deno.test("zds codec: requests encode to the table's bytes and decode back", () => {
  for (const [bytes, req] of TABLE) {
    assert.equal(toHex(encodeWorkloadRequest(req)), bytes, req.kind);
    assert.deepEqual(decodeWorkloadRequest(hex(bytes)), { ok: true, message: req }, req.kind);
  }
  assert.equal(hex(ADD_U1).length, 19);
});

Deno.test("zds codec: hello V1, ack and nack match the table", () => {
  assert.equal(toHex(encodeHello()), "08 01");
  assert.deepEqual(decodeHello(hex("08 01")), { ok: true, message: { version: 1 } });
  assert.equal(toHex(encodeAck()), "0a 00");
  assert.equal(toHex(encodeAck("x")), "0a 03 0a 01 78");
  assert.deepEqual(decodeWorkloadResponse(hex("0a 00")), { ok: true, message: { kind: "ack", error: "" } });
  assert.deepEqual(decodeWorkloadResponse(hex("0a 03 0a 01 78")), {
    ok: true,
    message: { kind: "ack", error: "x" },
  });
  // Go's proto.Unmarshal accepts an empty WorkloadResponse (no payload): told apart, not an error.
  assert.deepEqual(decodeWorkloadResponse(new Uint8Array()), { ok: true, message: { kind: "empty" } });
  // A hello with no version decodes as NOT_USED; a negative enum value as prost reads int32.
  assert.deepEqual(decodeHello(new Uint8Array()), { ok: true, message: { version: 0 } });
  assert.deepEqual(decodeHello(hex("08 ff ff ff ff ff ff ff ff ff 01")), {
    ok: true,
    message: { version: -1 },
  });
  assert.throws(() => encodeHello(0), RangeError);
});

Deno.test("zds codec: no encoded message is ever an empty packet", () => {
  assert.ok(encodeWorkloadRequest({ kind: "keep", uid: "" }).length > 0);
  assert.equal(toHex(encodeWorkloadRequest({ kind: "keep", uid: "" })), "2a 00");
  assert.equal(toHex(encodeWorkloadRequest({ kind: "del", uid: "" })), "12 00");
  assert.equal(toHex(encodeWorkloadRequest({ kind: "add", uid: "" })), "0a 00");
  assert.ok(encodeAck().length > 0);
});

Deno.test("zds codec: Add without workload_info decodes with no info (the state manager refuses it)", () => {
  const bytes = encodeWorkloadRequest({ kind: "add", uid: "u1" });
  assert.equal(toHex(bytes), "0a 04 0a 02 75 31");
  assert.deepEqual(decodeWorkloadRequest(bytes), { ok: true, message: { kind: "add", uid: "u1" } });
  // An empty WorkloadInfo is present (Go marshals a non-nil empty message as `12 00`).
  assert.deepEqual(decodeWorkloadRequest(hex("0a 06 0a 02 75 31 12 00")), {
    ok: true,
    message: { kind: "add", uid: "u1", info: { name: "", namespace: "", serviceAccount: "" } },
  });
});

Deno.test("zds codec: proto3 rules — unknown fields skipped, last oneof member wins, same member merges", () => {
  // Unknown fields of every wire type around a Keep (incl. reserved trust_domain 4 in WorkloadInfo).
  const unknown = "20 96 01 21 01 02 03 04 05 06 07 08 25 01 02 03 04 32 02 aa bb";
  assert.deepEqual(decodeWorkloadRequest(hex(`${unknown} 2a 04 0a 02 75 31`)), {
    ok: true,
    message: { kind: "keep", uid: "u1" },
  });
  const info4 = "0a 0a 0a 02 75 31 12 04 22 02 74 64";
  assert.deepEqual(decodeWorkloadRequest(hex(info4)), {
    ok: true,
    message: { kind: "add", uid: "u1", info: { name: "", namespace: "", serviceAccount: "" } },
  });
  // Keep then Del: Del wins.
  assert.deepEqual(decodeWorkloadRequest(hex("2a 04 0a 02 75 31 12 04 12 02 75 32")), {
    ok: true,
    message: { kind: "del", uid: "u2" },
  });
  // Two Add members merge: uid from the second, info from the first.
  assert.deepEqual(decodeWorkloadRequest(hex(`${ADD_U1} 0a 04 0a 02 75 32`)), {
    ok: true,
    message: { kind: "add", uid: "u2", info: { name: "n", namespace: "ns", serviceAccount: "sa" } },
  });
  // A huge varint in an unknown field is still skipped.
  assert.equal(decodeWorkloadRequest(hex("20 ff ff ff ff ff ff ff ff ff 01 1a 00")).ok, true);
});

Deno.test("zds codec: malformed requests are typed decode errors", () => {
  const cases: ReadonlyArray<[string, string]> = [
    ["", "no_payload"],
    ["20 01", "no_payload"], // only an unknown field
    ["1a", "truncated"], // length missing
    ["1a 05 00", "truncated"], // length past the end
    ["2a 04 0a 02 75", "truncated"],
    ["ff ff ff ff ff ff ff ff ff ff ff", "varint_overflow"],
    ["00", "field_number"],
    ["1b", "wire_type"], // start group
    ["18 00", "wire_type"], // snapshot_sent as a varint
    ["2a 02 08 01", "wire_type"], // KeepWorkload.uid as a varint
    ["2a 03 0a 01 ff", "utf8"],
    ["0a 07 12 05 0a 03 c3 28 41", "utf8"],
  ];
  for (const [bytes, reason] of cases) {
    const r = decodeWorkloadRequest(hex(bytes));
    assert.equal(r.ok, false, bytes);
    if (!r.ok) {
      assert.equal(r.error.kind, "zds_decode");
      assert.equal(r.error.reason, reason, bytes);
    }
  }
  const bad = decodeWorkloadResponse(hex("0a 03 0a 01"));
  assert.equal(bad.ok, false);
});

Deno.test("zds codec: long strings use multi-byte lengths", () => {
  const uid = "u".repeat(300);
  const bytes = encodeWorkloadRequest({ kind: "del", uid });
  assert.equal(toHex(bytes.subarray(0, 5)), "12 af 02 12 ac");
  assert.deepEqual(decodeWorkloadRequest(bytes), { ok: true, message: { kind: "del", uid } });
  const info = { name: "é✓😀", namespace: "ns", serviceAccount: "sa" };
  assert.deepEqual(decodeWorkloadRequest(encodeWorkloadRequest({ kind: "add", uid: "x", info })), {
    ok: true,
    message: { kind: "add", uid: "x", info },
  });
});
