import assert from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import {
  canonicalIp,
  cidrContains,
  compileCidr,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  tryParseCidr,
} from "../../lib/policy/cidr.ts";

Deno.test("parseIp + formatIp give canonical text", () => {
  const cases: [string, string][] = [
    ["1.2.3.4", "1.2.3.4"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["::", "::"],
    ["::1", "::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // leftmost longest run
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not compressed
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["::ffff:a00:1", "::ffff:10.0.0.1"],
    ["::1.2.3.4", "::102:304"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["fe80::1:2:3:4", "fe80::1:2:3:4"],
  ];
  for (const [input, want] of cases) {
    const ip = parseIp(input);
    assert.ok(ip, input);
    assert.equal(formatIp(ip), want, input);
  }
});

Deno.test("parseIp refuses malformed addresses", () => {
  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.-1",
    " 1.2.3.4",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "fe80::1%eth0",
    ":1",
    "1:",
    "::ffff:1.2.3",
    "::ffff:1.2.3.4:5",
    "g::1",
  ];
  for (const b of bad) assert.equal(parseIp(b), undefined, b);
});

Deno.test("canonicalIp folds v4-mapped IPv6 to IPv4 only", () => {
  assert.equal(formatIp(canonicalIp(parseIp("::ffff:192.168.1.1")!)), "192.168.1.1");
  assert.equal(canonicalIp(parseIp("::ffff:192.168.1.1")!).v6, false);
  assert.equal(formatIp(canonicalIp(parseIp("::192.168.1.1")!)), "::c0a8:101");
  assert.equal(formatIp(canonicalIp(parseIp("10.0.0.1")!)), "10.0.0.1");
});

Deno.test("parseCidr accepts hosts, prefixes and IPv6, keeping the address as written", () => {
  const cases: [string, string][] = [
    ["1.2.3.4", "1.2.3.4/32"],
    ["1.2.3.0/24", "1.2.3.0/24"],
    ["10.1.2.3/8", "10.1.2.3/8"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["2001:db8::/32", "2001:db8::/32"],
    ["2001:DB8:0:0::1", "2001:db8::1/128"],
    ["::/0", "::/0"],
    ["::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"],
  ];
  for (const [input, want] of cases) assert.equal(formatCidr(parseCidr(input)), want, input);
});

Deno.test("parseCidr refuses bad CIDRs with a config error quoting the text", () => {
  for (
    const bad of [
      "10.0.0.300/8",
      "1.2.3.0/33",
      "2001:db8::/129",
      "1.2.3.0/",
      "1.2.3.0/08",
      "1.2.3.0/-1",
      "x/8",
      "",
    ]
  ) {
    assert.equal(tryParseCidr(bad), undefined, bad);
    assert.throws(() => parseCidr(bad), (e: unknown) => {
      assert.ok(e instanceof ZtError);
      assert.equal(e.kind, "config");
      assert.equal(e.message, `invalid CIDR ${JSON.stringify(bad)}`);
      return true;
    });
  }
});

Deno.test("cidrContains: prefix containment with ipnet's family rules", () => {
  const cases: [string, string, boolean][] = [
    ["10.0.0.0/8", "10.255.1.2", true],
    ["10.0.0.0/8", "11.0.0.1", false],
    ["10.1.2.3/8", "10.9.9.9", true], // host bits in the net are ignored
    ["1.2.3.4", "1.2.3.4", true],
    ["1.2.3.4", "1.2.3.5", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["0.0.0.0/0", "::1", false], // families never mix
    ["::/0", "10.0.0.1", false],
    ["::/0", "2001:db8::1", true],
    ["2001:db8::/32", "2001:db8:ffff::1", true],
    ["2001:db8::/32", "2001:db9::1", false],
    ["2001:db8::/33", "2001:db8:7fff::1", true],
    ["2001:db8::/33", "2001:db8:8000::1", false],
    ["2001:db8::1/128", "2001:db8::1", true],
    ["10.0.0.0/8", "::ffff:10.0.0.1", true], // the connection address is canonicalised
    ["::ffff:10.0.0.0/104", "::ffff:10.0.0.1", false], // ...so a v4-mapped net never sees it
    ["10.0.0.0/8", "not-an-ip", false],
  ];
  for (const [net, ip, want] of cases) assert.equal(cidrContains(parseCidr(net), ip), want, `${net} ∋ ${ip}`);
});

Deno.test("compileCidr refuses a malformed model value", () => {
  assert.throws(() => compileCidr({ ip: "1.2.3.4", prefixLen: 40 }), ZtError);
  assert.throws(() => compileCidr({ ip: "nope", prefixLen: 8 }), ZtError);
});
