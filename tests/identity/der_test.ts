/** The DER encoder/reader and the ECDSA signature conversion, against hand-computed encodings. */
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { ZtError } from "../../lib/error.ts";
import * as der from "../../lib/identity/der.ts";
import { ecdsaRawToDer } from "../../lib/identity/x509_signature.ts";

const hex = (b: Uint8Array) => der.toHex(b);
const bytes = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const isDerError = (e: unknown) => e instanceof ZtError && e.kind === "der";

Deno.test("INTEGERs are minimal and padded to stay positive", () => {
  assert.equal(hex(der.uint(bytes("00007f"))), "02017f");
  assert.equal(hex(der.uint(bytes("80"))), "02020080");
  assert.equal(hex(der.uint(bytes("0080"))), "02020080");
  assert.equal(hex(der.uint(bytes(""))), "020100");
  assert.equal(hex(der.uint(bytes("0000"))), "020100");
  assert.equal(hex(der.smallInt(0)), "020100");
  assert.equal(hex(der.smallInt(2)), "020102");
  assert.equal(hex(der.smallInt(128)), "02020080");
  assert.equal(hex(der.smallInt(256)), "02020100");
});

Deno.test("OIDs encode base-128 arcs and read back", () => {
  assert.equal(hex(der.oid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
  assert.equal(hex(der.oid("2.5.29.17")), "0603551d11");
  for (const o of ["1.3.6.1.5.5.7.3.2", "2.999.3", "2.25.329800735698586629295641978511506172918"]) {
    assert.equal(der.readOid(der.readNode(der.oid(o))), o);
  }
});

Deno.test("lengths use the short form below 128 and minimal long forms above", () => {
  for (
    const [n, head] of [[0, "0400"], [127, "047f"], [128, "048180"], [256, "04820100"], [70000, "0483011170"]]
  ) {
    const enc = der.octets(new Uint8Array(n as number).fill(7));
    assert.equal(hex(enc.subarray(0, (head as string).length / 2)), head);
    const node = der.readNode(enc);
    assert.equal(node.content.length, n);
    assert.equal(node.der.length, enc.length);
  }
  const s = der.seq(der.bool(true), der.nul(), der.ia5("a"));
  assert.equal(hex(s), "30080101ff05001601" + "61");
  assert.deepEqual(der.children(der.readNode(s)).map((c) => c.tag), [0x01, 0x05, 0x16]);
});

Deno.test("times: UTCTime until 2049, GeneralizedTime from 2050, seconds precision", () => {
  const t = (iso: string) => new TextDecoder().decode(der.readNode(der.time(new Date(iso))).content);
  assert.equal(der.time(new Date("2049-12-31T23:59:59.999Z"))[0], der.TAG.UTC_TIME);
  assert.equal(t("2049-12-31T23:59:59.999Z"), "491231235959Z");
  assert.equal(der.time(new Date("2050-01-01T00:00:00Z"))[0], der.TAG.GENERALIZED_TIME);
  assert.equal(t("2050-01-01T00:00:00Z"), "20500101000000Z");
  assert.equal(t("1950-01-01T00:00:00Z"), "500101000000Z");
  for (
    const iso of [
      "1950-01-01T00:00:00Z",
      "2026-11-24T07:32:44Z",
      "2049-12-31T23:59:59Z",
      "2109-01-13T07:36:21Z",
    ]
  ) {
    assert.equal(
      der.readTime(der.readNode(der.time(new Date(iso)))).toISOString(),
      new Date(iso).toISOString(),
    );
  }
  assert.throws(() => der.time(new Date("1949-12-31T00:00:00Z")), isDerError);
  assert.throws(() => der.readTime(der.readNode(der.ia5("491231235959Z"))), isDerError);
  assert.throws(() => der.readTime(der.readNode(der.tlv(der.TAG.UTC_TIME, bytes("3439")))), isDerError);
});

Deno.test("the reader refuses truncated and oversized TLVs", () => {
  assert.throws(() => der.readNode(bytes("30")), isDerError);
  assert.throws(() => der.readNode(bytes("3005020100")), isDerError);
  assert.throws(() => der.readNode(bytes("3f2200")), isDerError);
  assert.throws(() => der.readNode(bytes("3085010000000000")), isDerError);
  assert.throws(() => der.children(bytes("020100ff")), isDerError);
  assert.throws(() => der.expectTag(der.readNode(der.nul()), der.TAG.SEQUENCE, "x"), isDerError);
});

Deno.test("ECDSA r||s becomes SEQUENCE { r, s } with sign padding, and node:crypto verifies it", async () => {
  const r = "80" + "11".repeat(31);
  const s = "0000" + "7f".repeat(30);
  assert.equal(hex(ecdsaRawToDer(bytes(r + s))), "3043" + "022100" + r + "021e" + "7f".repeat(30));
  assert.throws(() => ecdsaRawToDer(bytes("010203")), isDerError);

  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const pub = createPublicKey({
    key: new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)) as never,
    format: "der",
    type: "spki",
  });
  let padded = 0;
  for (let i = 0; i < 64; i++) {
    const data = crypto.getRandomValues(new Uint8Array(32));
    const raw = new Uint8Array(
      await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, data),
    );
    if (raw[0] & 0x80 || raw[32] & 0x80) padded++;
    assert.equal(verify("sha256", data, pub, ecdsaRawToDer(raw)), true);
  }
  assert.ok(padded > 0, "some signatures had a high bit to pad");
});
