/**
 * The DNS codec on real packets: dig's queries and dnsmasq's answers captured here
 * (tests/dns/fixtures/capture.ts), cross-checked against an independent codec (dns-packet), plus
 * compression, escapes and the decoder's refusals.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { dnsPacket } from "../fakes/dns_packet.ts";
import { decodeMessage, readName } from "../../lib/dns/dns_decoder.ts";
import { encodeMessage } from "../../lib/dns/dns_encoder.ts";
import { encodeName } from "../../lib/dns/dns_name.ts";
import { type DnsMessage, DnsWireError, RType } from "../../lib/dns/dns_types.ts";
import { rdataText } from "../../lib/dns/record_text.ts";
import fixtures from "./fixtures/dns_packets.json" with { type: "json" };

interface Fixture {
  label: string;
  transport: string;
  query: string;
  response: string;
}

function packet(hex: string, transport: string): Uint8Array {
  const b = new Uint8Array(Buffer.from(hex, "hex"));
  return transport === "tcp" ? b.slice(2) : b;
}

function fixture(label: string): { query: DnsMessage; response: DnsMessage; raw: Uint8Array } {
  const f = (fixtures as Fixture[]).find((x) => x.label === label)!;
  assert.ok(f, label);
  const raw = packet(f.response, f.transport);
  return { query: decodeMessage(packet(f.query, f.transport)), response: decodeMessage(raw), raw };
}

Deno.test("codec: dig's queries decode (name, type, RD, EDNS 1232, DO, case kept)", () => {
  const a = fixture("A with EDNS and cookie (dig's default)").query;
  assert.deepEqual(a.questions, [{ name: "web.example.test", type: RType.A, class: 1 }]);
  assert.equal(a.qr, false);
  assert.equal(a.rd, true);
  assert.deepEqual(a.edns, { udpSize: 1232, version: 0, dnssecOk: false, extendedRcode: 0 });
  assert.equal(fixture("AAAA without EDNS").query.edns, undefined);
  assert.equal(fixture("DNSSEC OK bit").query.edns?.dnssecOk, true);
  assert.equal(fixture("mixed-case name").query.questions[0].name, "WeB.ExAmPlE.TeSt");
  assert.equal(fixture("A over TCP").query.questions[0].type, RType.A);
});

Deno.test("codec: dnsmasq's answers decode; compressed names inside RDATA are expanded", () => {
  assert.equal(rdataText(fixture("A with EDNS and cookie (dig's default)").response.answers[0]), "10.1.2.3");
  assert.equal(rdataText(fixture("AAAA without EDNS").response.answers[0]), "2001:db8::3");
  const chain = fixture("CNAME chain").response;
  assert.deepEqual(chain.answers.map((r) => [r.name, r.type, rdataText(r)]), [
    ["alias.example.test", RType.CNAME, "web.example.test."],
    ["web.example.test", RType.A, "10.1.2.3"],
  ]);
  assert.equal(rdataText(fixture("MX with compressed target").response.answers[0]), "10 mail.example.test.");
  assert.equal(rdataText(fixture("TXT").response.answers[0]), '"hello world"');
  assert.equal(rdataText(fixture("SRV").response.answers[0]), "0 5 80 web.example.test.");
  assert.equal(fixture("NXDOMAIN with SOA").response.rcode, 3);
  const tcp = fixture("A over TCP").response;
  assert.equal(tcp.answers.length, 1);
});

Deno.test("codec: re-encoding dnsmasq's plain answers gives its exact bytes (same compression)", () => {
  for (
    const label of [
      "A with EDNS and cookie (dig's default)",
      "AAAA without EDNS",
      "MX with compressed target",
      "TXT",
      "SRV",
      "mixed-case name",
    ]
  ) {
    const { response, raw } = fixture(label);
    assert.deepEqual(encodeMessage(response).bytes, raw, label);
  }
});

Deno.test("codec: every fixture round-trips, and dns-packet reads what we write", () => {
  for (const f of fixtures as Fixture[]) {
    for (const hex of [f.query, f.response]) {
      const m = decodeMessage(packet(hex, f.transport));
      const bytes = encodeMessage(m).bytes;
      assert.deepEqual(decodeMessage(bytes), m, f.label);
      const other = dnsPacket.decode(Buffer.from(bytes));
      assert.equal(other.id, m.id);
      assert.deepEqual(other.questions?.map((q) => q.name), m.questions.map((q) => q.name));
      assert.equal(other.answers?.length ?? 0, m.answers.length, f.label);
    }
  }
});

Deno.test("codec: names are compressed against earlier names of the same case; escapes survive", () => {
  const rec = (name: string) => ({
    name,
    type: RType.A,
    class: 1,
    ttl: 30,
    data: new Uint8Array([10, 0, 0, 1]),
  });
  const m: DnsMessage = {
    id: 1,
    qr: true,
    opcode: 0,
    aa: true,
    tc: false,
    rd: true,
    ra: true,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name: "a.example.com", type: RType.A, class: 1 }],
    answers: [
      rec("a.example.com"),
      rec("b.example.com"),
      rec("we\\.ird\\032x.example.com"),
      rec("B.EXAMPLE.com"),
    ],
    authorities: [],
    additionals: [],
  };
  const bytes = encodeMessage(m).bytes;
  // header, question (15 + 4), then owners: a pointer (2), "b" + pointer (4), the 8-byte label + pointer
  // (11), and "B.EXAMPLE" + a pointer to "com" (12: another case is another name, so its case is kept)
  assert.equal(bytes.length, 12 + 19 + (2 + 14) + (4 + 14) + (11 + 14) + (12 + 14));
  const back = decodeMessage(bytes);
  assert.deepEqual(back.answers.map((r) => r.name), [
    "a.example.com",
    "b.example.com",
    "we\\.ird\\032x.example.com",
    "B.EXAMPLE.com",
  ]);
  assert.deepEqual(encodeName("a.b"), new Uint8Array([1, 97, 1, 98, 0]));
});

Deno.test("codec: hostile names are refused with a DnsWireError, never a crash", () => {
  const hdr = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  const cases: [string, number[]][] = [
    ["pointer to itself", [...hdr, 0xc0, 12, 0, 1, 0, 1]],
    ["pointer forwards", [...hdr, 0xc0, 20, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]],
    ["label past the end", [...hdr, 10, 97, 98]],
    ["reserved label type", [...hdr, 0x40, 0, 0, 1, 0, 1]],
    ["truncated question", [...hdr, 0, 0, 1]],
    ["name over 255 bytes", [...hdr, ...Array(5).fill([63, ...Array(63).fill(97)]).flat(), 0, 0, 1, 0, 1]],
    ["short header", [0, 1, 2]],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => decodeMessage(new Uint8Array(bytes)), DnsWireError, what);
  }
  assert.throws(() => readName(new Uint8Array([0xc0]), 0), DnsWireError);
});
