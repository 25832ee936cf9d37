import { deepEqual } from "node:assert/strict";
import {
  canonicalIp,
  formatIpBytes,
  formatSocketAddr,
  ipFamily,
  isIp,
  isLoopback,
  parseSocketAddr,
  prefixContains,
} from "../../lib/state/ip.ts";

Deno.test("canonicalIp normalises IPv4, IPv6 and IPv4-mapped IPv6", () => {
  const cases: Array<[string, string | undefined]> = [
    ["10.0.0.1", "10.0.0.1"],
    ["255.255.255.255", "255.255.255.255"],
    ["010.0.0.1", undefined],
    ["10.0.0.256", undefined],
    ["10.0.0", undefined],
    ["10.0.0.x", undefined],
    ["FD00:0:0:0:0:0:0:1", "fd00::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::FFFF:0102:0304", "1.2.3.4"],
    ["64:ff9b::1.2.3.4", "64:ff9b::102:304"],
    ["1:2:3:4:5:6:7:8:9", undefined],
    ["1::2::3", undefined],
    ["fe80::1%eth0", undefined],
    ["[::1]", undefined],
    ["", undefined],
    ["example.com", undefined],
  ];
  for (const [input, want] of cases) deepEqual(canonicalIp(input), want, input);
});

Deno.test("isIp, ipFamily and isLoopback", () => {
  deepEqual(isIp("1.2.3.4"), true);
  deepEqual(isIp("1.2.3"), false);
  deepEqual(ipFamily("1.2.3.4"), 4);
  deepEqual(ipFamily("::ffff:1.2.3.4"), 4);
  deepEqual(ipFamily("fd00::1"), 6);
  deepEqual(ipFamily("nope"), undefined);
  deepEqual(isLoopback("127.0.0.53"), true);
  deepEqual(isLoopback("::1"), true);
  deepEqual(isLoopback("10.0.0.1"), false);
  deepEqual(isLoopback("::2"), false);
});

Deno.test("parseSocketAddr and formatSocketAddr", () => {
  const cases: Array<[string, { ip: string; port: number } | undefined]> = [
    ["1.2.3.4:80", { ip: "1.2.3.4", port: 80 }],
    ["[::1]:80", { ip: "::1", port: 80 }],
    ["[FD00::0001]:15008", { ip: "fd00::1", port: 15008 }],
    ["[::ffff:10.0.0.1]:443", { ip: "10.0.0.1", port: 443 }],
    ["1.2.3.4:65535", { ip: "1.2.3.4", port: 65535 }],
    ["1.2.3.4:65536", undefined],
    ["1.2.3.4:", undefined],
    ["1.2.3.4", undefined],
    ["::1:80", undefined],
    ["[1.2.3.4]:80", undefined],
    ["[::1]80", undefined],
    ["httpbin:80", undefined],
    ["1.2.3.4:08", undefined],
  ];
  for (const [input, want] of cases) deepEqual(parseSocketAddr(input), want, input);
  deepEqual(formatSocketAddr("1.2.3.4", 80), "1.2.3.4:80");
  deepEqual(formatSocketAddr("fd00::1", 80), "[fd00::1]:80");
});

Deno.test("formatIpBytes writes canonical text", () => {
  deepEqual(formatIpBytes(Uint8Array.from([10, 0, 0, 1])), "10.0.0.1");
  const mapped = new Uint8Array(16);
  mapped.set([0xff, 0xff, 1, 2, 3, 4], 10);
  deepEqual(formatIpBytes(mapped), "1.2.3.4");
  const v6 = new Uint8Array(16);
  v6.set([0xfd, 0], 0);
  v6[15] = 1;
  deepEqual(formatIpBytes(v6), "fd00::1");
});

Deno.test("prefixContains", () => {
  const cases: Array<[string, number, string, boolean]> = [
    ["10.96.0.0", 12, "10.100.1.2", true],
    ["10.96.0.0", 12, "10.112.0.1", false],
    ["10.0.0.0", 0, "192.168.1.1", true],
    ["10.0.0.1", 32, "10.0.0.1", true],
    ["10.0.0.1", 32, "10.0.0.2", false],
    ["10.0.0.0", 8, "fd00::1", false],
    ["fd00::", 8, "fd12::1", true],
    ["fd00::", 16, "fd12::1", false],
    ["10.0.0.0", 33, "10.0.0.1", false],
  ];
  for (const [p, l, ip, want] of cases) deepEqual(prefixContains(p, l, ip), want, `${p}/${l} ∋ ${ip}`);
});
