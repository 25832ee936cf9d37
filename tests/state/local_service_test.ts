/** Service entries of the local config in ztunnel's spellings (lib/state/local_service.ts). */
import { deepEqual, equal, throws } from "node:assert/strict";
import { parseLocalConfig } from "../../lib/state/local_config.ts";

const service = (extra: string) =>
  `services:
- name: s
  namespace: ops
  hostname: s.ops.svc.cluster.local
  vips: ["/10.96.0.1"]
  ports: {80: 8080}
${extra}`;

Deno.test("local service: ztunnel's cidrVips [{network, cidr}] join the vips as CIDRs", () => {
  const s = parseLocalConfig(service(`  cidrVips:
  - {network: "", cidr: "10.97.0.0/16"}
  - {network: net1, cidr: "fd00::/64"}
  - {cidr: "10.98.0.0/24"}
`)).services[0];
  deepEqual(s.vips, [
    { network: "", address: "10.96.0.1" },
    { network: "", address: "10.97.0.0", length: 16 },
    { network: "net1", address: "fd00::", length: 64 },
    { network: "", address: "10.98.0.0", length: 24 },
  ]);
});

Deno.test("local service: a malformed cidrVips entry is refused with its path", () => {
  throws(
    () => parseLocalConfig(service(`  cidrVips: [{network: "", cidr: "10.97.0.0"}]\n`)),
    /cidrVips\[0\]\.cidr/,
  );
  throws(() => parseLocalConfig(service(`  cidrVips: [{cidr: "10.97.0.0/40"}]\n`)), /cidrVips\[0\]\.cidr/);
  throws(
    () => parseLocalConfig(service(`  cidrVips: [{cidr: "10.0.0.0/8", port: 1}]\n`)),
    /unknown field "port"/,
  );
});

Deno.test("local service: ipFamilies in ztunnel's names (IPv4, IPv6, Dual) and zt's", () => {
  const fam = (v: string) => parseLocalConfig(service(`  ipFamilies: ${v}\n`)).services[0].ipFamilies;
  equal(fam("IPv4"), "IPv4Only");
  equal(fam("IPv6"), "IPv6Only");
  equal(fam("Dual"), "Dual");
  equal(fam("IPv4Only"), "IPv4Only");
  throws(() => fam("IPv5"), /ipFamilies/);
});
