import assert from "node:assert/strict";
import {
  certificateRequestCodec,
  certificateResponseCodec,
  deltaRequestCodec,
  deltaResponseCodec,
  jsonToStruct,
  messageCodec,
  structToJson,
  typeUrlOf,
} from "../../lib/xds/proto.ts";
import { ZtError } from "../../lib/error.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));

Deno.test("an ACK encodes as type_url (2) + response_nonce (6) only", () => {
  const bytes = deltaRequestCodec.encode({ typeUrl: "t", responseNonce: "n" });
  assert.equal(hex(bytes), "1201743201" + "6e");
});

Deno.test("a NACK carries error_detail (7) with message (2) and no code", () => {
  const bytes = deltaRequestCodec.encode({
    typeUrl: "t",
    responseNonce: "n",
    errorDetail: { message: "a: b" },
  });
  // 3a = field 7, LEN; inside: 12 = field 2 (message), LEN 4.
  assert.equal(hex(bytes), "12017432016e" + "3a06" + "1204" + hex(new TextEncoder().encode("a: b")));
});

Deno.test("initial_resource_versions is map<string,string> field 5", () => {
  const bytes = deltaRequestCodec.encode({ typeUrl: "t", initialResourceVersions: { a: "1" } });
  // 2a = field 5 LEN 6: entry { 0a 01 'a', 12 01 '1' }
  assert.equal(hex(bytes), "120174" + "2a06" + "0a0161" + "120131");
  assert.deepEqual(deltaRequestCodec.decode(bytes).initialResourceVersions, { a: "1" });
});

Deno.test("a hand-encoded DeltaDiscoveryResponse decodes field by field", () => {
  // resources(2){version(1)"v1", resource(2){type_url(1)"x", value(2) 01 02}, name(3)"r", aliases(4)"al"},
  // type_url(4)"T", nonce(5)"N", removed_resources(6)"gone", system_version_info(1)"s"
  const res = "0a027631" + "1207" + "0a0178" + "12020102" + "1a0172" + "2202616c";
  const bytes = fromHex(
    "0a0173" + "12" + (res.length / 2).toString(16).padStart(2, "0") + res +
      "220154" + "2a014e" + "3204676f6e65",
  );
  const d = deltaResponseCodec.decode(bytes);
  assert.equal(d.systemVersionInfo, "s");
  assert.equal(d.typeUrl, "T");
  assert.equal(d.nonce, "N");
  assert.deepEqual([...(d.removedResources ?? [])], ["gone"]);
  assert.equal(d.resources.length, 1);
  const r = d.resources[0];
  assert.equal(r.version, "v1");
  assert.equal(r.name, "r");
  assert.deepEqual([...(r.aliases ?? [])], ["al"]);
  assert.equal(r.resource?.typeUrl, "x");
  assert.deepEqual([...r.resource!.value], [1, 2]);
});

Deno.test("garbage bytes fail to decode with ZtError(xds) naming the type", () => {
  assert.throws(
    () => deltaResponseCodec.decode(fromHex("12ff01")),
    (e: unknown) => e instanceof ZtError && e.kind === "xds" && /DeltaDiscoveryResponse/.test(e.message),
  );
});

Deno.test("encode rejects a wrongly typed object", () => {
  assert.throws(
    () => deltaRequestCodec.encode({ typeUrl: 5 as unknown as string }),
    (e: unknown) => e instanceof ZtError && e.kind === "proto" && /typeUrl/.test(e.message),
  );
  assert.throws(
    () => messageCodec("no.such.Type"),
    (e: unknown) => e instanceof ZtError && e.kind === "proto",
  );
});

Deno.test("Struct round-trips JSON values (node metadata)", () => {
  const json = { s: "x", n: 1.5, b: true, z: null, l: ["a", 2], o: { k: "v" } };
  const struct = jsonToStruct(json);
  assert.deepEqual(struct.fields.s, { stringValue: "x" });
  assert.deepEqual(struct.fields.z, { nullValue: 0 });
  const codec = messageCodec<typeof struct>("google.protobuf.Struct");
  assert.deepEqual(structToJson(codec.decode(codec.encode(struct))), json);
});

Deno.test("CA request/response: validity_duration (int64) decodes as seconds", () => {
  const req = {
    csr: "PEM",
    validityDuration: 86400,
    metadata: jsonToStruct({ ImpersonatedIdentity: "spiffe://x" }),
  };
  const bytes = certificateRequestCodec.encode(req);
  // csr is field 1, validity_duration field 3 (varint), metadata field 4.
  assert.equal(hex(bytes.subarray(0, 10)), "0a0350454d" + "1880a305" + "22");
  const back = certificateRequestCodec.decode(bytes);
  assert.equal(back.validityDuration, 86400);
  assert.equal(typeof back.validityDuration, "number");
  assert.deepEqual(structToJson(back.metadata), { ImpersonatedIdentity: "spiffe://x" });
  const chain = certificateResponseCodec.decode(
    certificateResponseCodec.encode({ certChain: ["leaf", "root"] }),
  );
  assert.deepEqual([...chain.certChain], ["leaf", "root"]);
});

Deno.test("typeUrlOf builds the Any/xDS type URL", () => {
  assert.equal(typeUrlOf("istio.workload.Address"), "type.googleapis.com/istio.workload.Address");
});
