/**
 * istio-cni's in-pod rule set as data: the restore text rule for rule as istio-cni's golden files
 * (cni/pkg/iptables/testdata/*.golden, read upstream; the expected text below is written from them),
 * the pod annotations, what an `iptables-save` shows installed, the install/remove commands (routes,
 * ip rules, one restore per family replacing what is there) and input checks.
 */
import assert from "node:assert/strict";
import {
  DEFAULT_INPOD_SETTINGS,
  inpodInstallCommands,
  inpodRemoveCommands,
  inpodRemoveText,
  inpodRestoreText,
  type InpodSettings,
  installedRules,
  NOTHING_INSTALLED,
} from "../../lib/capture/inpod_rules.ts";
import { parseGoBool, type PodOverrides, podOverrides } from "../../lib/capture/pod_overrides.ts";
import { formatCommand, inNetns } from "../../lib/capture/rule_command.ts";
import { ZtError } from "../../lib/error.ts";

/** istio-cni's test config: its goldens use this IPv6 probe address instead of the default. */
const GOLDEN: InpodSettings = {
  ...DEFAULT_INPOD_SETTINGS,
  hostProbeSnatIpv6: "e9ac:1e77:90ca:399f:4d6d:ece2:2f9b:3164",
};
const NONE: PodOverrides = { ingressMode: false, virtualInterfaces: [] };

const MANGLE = `* mangle
-N ISTIO_PRERT
-N ISTIO_OUTPUT
-A PREROUTING -j ISTIO_PRERT
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff
-A ISTIO_OUTPUT -m connmark --mark 0x111/0xfff -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
COMMIT
`;
const RAW = `* raw
-N ISTIO_OUTPUT
-N ISTIO_PRERT
-A PREROUTING -j ISTIO_PRERT
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -p udp -m mark --mark 0x539/0xfff -m udp --dport 53 -j CT --zone 1
-A ISTIO_PRERT -p udp -m mark ! --mark 0x539/0xfff -m udp --sport 53 -j CT --zone 1
COMMIT
`;

Deno.test("in-pod rules: default (DNS capture on), IPv4 — istio-cni's default.golden", () => {
  assert.equal(
    inpodRestoreText(4, GOLDEN, NONE),
    MANGLE + `* nat
-N ISTIO_PRERT
-N ISTIO_OUTPUT
-A OUTPUT -j ISTIO_OUTPUT
-A PREROUTING -j ISTIO_PRERT
-A ISTIO_PRERT -s 169.254.7.127 -p tcp -m tcp -j ACCEPT
-A ISTIO_OUTPUT -d 169.254.7.127 -p tcp -m tcp -j ACCEPT
-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT ! -o lo -p udp -m mark ! --mark 0x539/0xfff -m udp --dport 53 -j REDIRECT --to-port 15053
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp --dport 53 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15053
-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001
COMMIT
` + RAW,
  );
});

Deno.test("in-pod rules: default, IPv6 — default_ipv6.golden's ip6tables part (::1, the v6 probe address)", () => {
  assert.equal(
    inpodRestoreText(6, GOLDEN, NONE),
    MANGLE + `* nat
-N ISTIO_PRERT
-N ISTIO_OUTPUT
-A OUTPUT -j ISTIO_OUTPUT
-A PREROUTING -j ISTIO_PRERT
-A ISTIO_PRERT -s e9ac:1e77:90ca:399f:4d6d:ece2:2f9b:3164 -p tcp -m tcp -j ACCEPT
-A ISTIO_OUTPUT -d e9ac:1e77:90ca:399f:4d6d:ece2:2f9b:3164 -p tcp -m tcp -j ACCEPT
-A ISTIO_PRERT ! -d ::1/128 -p tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT ! -o lo -p udp -m mark ! --mark 0x539/0xfff -m udp --dport 53 -j REDIRECT --to-port 15053
-A ISTIO_OUTPUT ! -d ::1/128 -p tcp --dport 53 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15053
-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT
-A ISTIO_OUTPUT ! -d ::1/128 -o lo -j ACCEPT
-A ISTIO_OUTPUT ! -d ::1/128 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001
COMMIT
` + RAW,
  );
  assert.match(
    inpodRestoreText(6, DEFAULT_INPOD_SETTINGS, NONE),
    /^-A ISTIO_PRERT -s fd16:9254:7127:1337:ffff:ffff:ffff:ffff -p tcp -m tcp -j ACCEPT$/m,
    "istio-cni's default HOST_PROBE_SNAT_IPV6",
  );
});

const NAT_NO_DNS = `* nat
-N ISTIO_PRERT
-N ISTIO_OUTPUT
-A OUTPUT -j ISTIO_OUTPUT
-A PREROUTING -j ISTIO_PRERT
-A ISTIO_PRERT -s 169.254.7.127 -p tcp -m tcp -j ACCEPT
-A ISTIO_OUTPUT -d 169.254.7.127 -p tcp -m tcp -j ACCEPT
-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001
COMMIT
`;

Deno.test("in-pod rules: the dns-capture annotation overrides the node's setting both ways (dns_pod_*.golden)", () => {
  const on = { ...GOLDEN, dnsCapture: true };
  const off = { ...GOLDEN, dnsCapture: false };
  const pod = (v: string) => podOverrides({ "ambient.istio.io/dns-capture": v });
  assert.equal(
    inpodRestoreText(4, on, pod("false")),
    MANGLE + NAT_NO_DNS,
    "disabled on the pod, on globally",
  );
  assert.equal(inpodRestoreText(4, off, NONE), MANGLE + NAT_NO_DNS, "off globally");
  assert.equal(inpodRestoreText(4, off, pod("true")), inpodRestoreText(4, on, NONE), "enabled on the pod");
  assert.equal(inpodRestoreText(4, off, pod("yes")), MANGLE + NAT_NO_DNS, "not a Go bool: ignored");
});

Deno.test("in-pod rules: bypass-inbound-capture is ingress mode — no probe accept, no 15006 (ingress.golden)", () => {
  const ingress = podOverrides({ "ambient.istio.io/bypass-inbound-capture": "true" });
  const nat = `* nat
-N ISTIO_OUTPUT
-N ISTIO_PRERT
-A OUTPUT -j ISTIO_OUTPUT
-A PREROUTING -j ISTIO_PRERT
-A ISTIO_OUTPUT -d %PROBE% -p tcp -m tcp -j ACCEPT
-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT
-A ISTIO_OUTPUT ! -d %LO% -o lo -j ACCEPT
-A ISTIO_OUTPUT ! -d %LO% -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001
COMMIT
`;
  const settings = { ...GOLDEN, dnsCapture: false };
  assert.equal(
    inpodRestoreText(4, settings, ingress),
    MANGLE + nat.replaceAll("%PROBE%", "169.254.7.127").replaceAll("%LO%", "127.0.0.1/32"),
  );
  assert.equal(
    inpodRestoreText(6, settings, ingress),
    MANGLE + nat.replaceAll("%PROBE%", GOLDEN.hostProbeSnatIpv6).replaceAll("%LO%", "::1/128"),
  );
});

Deno.test("in-pod rules: virtual interfaces go to 15001 first, then RETURN (virtual_interfaces.golden)", () => {
  const o = podOverrides({ "istio.io/reroute-virtual-interfaces": "fake1s0f0, fake1s0f1," });
  assert.deepEqual(o.virtualInterfaces, ["fake1s0f0", "fake1s0f1"]);
  const text = inpodRestoreText(4, { ...GOLDEN, dnsCapture: false }, o);
  assert.equal(
    text,
    MANGLE + NAT_NO_DNS.replace(
      "-A ISTIO_PRERT -s",
      `-A ISTIO_PRERT -i fake1s0f0 -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_PRERT -i fake1s0f0 -p tcp -j RETURN
-A ISTIO_PRERT -i fake1s0f1 -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_PRERT -i fake1s0f1 -p tcp -j RETURN
-A ISTIO_PRERT -s`,
    ),
  );
});

Deno.test("pod overrides: Go's ParseBool, anything else ignored", () => {
  for (const t of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(parseGoBool(t), true);
  for (const f of ["0", "f", "F", "FALSE", "false", "False"]) assert.equal(parseGoBool(f), false);
  for (const x of ["", "yes", "on", " true", "tRUE"]) assert.equal(parseGoBool(x), undefined);
  assert.deepEqual(podOverrides({}), NONE);
  assert.deepEqual(
    podOverrides({ "ambient.istio.io/bypass-inbound-capture": "1", "ambient.istio.io/dns-capture": "F" }),
    { ingressMode: true, dnsCapture: false, virtualInterfaces: [] },
  );
});

/** What `iptables-save` shows after an install with DNS capture (nft backend), plus a stranger's rules. */
const SAVED = `# Generated by iptables-save v1.8.9 (nf_tables)
*mangle
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_PRERT - [0:0]
-A PREROUTING -j ISTIO_PRERT
-A OUTPUT -j ISTIO_OUTPUT
-A OUTPUT -j ISTIO_OUTPUT
-A OUTPUT -p udp -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -m connmark --mark 0x111/0xfff -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:ISTIO_PRERT - [0:0]
-A PREROUTING -j ISTIO_PRERT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:ISTIO_OUTPUT - [0:0]
-A INPUT -j ISTIO_OUTPUT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:OTHER - [0:0]
-A PREROUTING -j OTHER
COMMIT
`;

Deno.test("installed rules: the jumps (each time they occur) and chains of the rule set, in mangle/nat/raw only", () => {
  const got = installedRules(SAVED);
  assert.deepEqual(got.jumps, [
    { table: "mangle", chain: "PREROUTING", target: "ISTIO_PRERT" },
    { table: "mangle", chain: "OUTPUT", target: "ISTIO_OUTPUT" },
    { table: "mangle", chain: "OUTPUT", target: "ISTIO_OUTPUT" },
    { table: "raw", chain: "PREROUTING", target: "ISTIO_PRERT" },
  ], "a jump with a match is not ours; filter is not ours");
  assert.deepEqual(got.chains, [
    { table: "mangle", chain: "ISTIO_OUTPUT" },
    { table: "mangle", chain: "ISTIO_PRERT" },
    { table: "raw", chain: "ISTIO_PRERT" },
  ]);
  assert.deepEqual(installedRules(""), NOTHING_INSTALLED);
  assert.equal(inpodRemoveText(NOTHING_INSTALLED), "");
  assert.equal(
    inpodRemoveText(got),
    `* mangle
-D PREROUTING -j ISTIO_PRERT
-D OUTPUT -j ISTIO_OUTPUT
-D OUTPUT -j ISTIO_OUTPUT
-F ISTIO_OUTPUT
-F ISTIO_PRERT
-X ISTIO_OUTPUT
-X ISTIO_PRERT
COMMIT
* raw
-D PREROUTING -j ISTIO_PRERT
-F ISTIO_PRERT
-X ISTIO_PRERT
COMMIT
`,
  );
});

Deno.test("in-pod re-install: what is there is deleted in the same table transaction that adds the new rules", () => {
  const installed = installedRules(SAVED);
  const text = inpodRestoreText(4, { ...GOLDEN, dnsCapture: false }, NONE, installed);
  assert.equal(
    text,
    `* mangle
-D PREROUTING -j ISTIO_PRERT
-D OUTPUT -j ISTIO_OUTPUT
-D OUTPUT -j ISTIO_OUTPUT
-F ISTIO_OUTPUT
-F ISTIO_PRERT
-X ISTIO_OUTPUT
-X ISTIO_PRERT
` + MANGLE.slice("* mangle\n".length) + NAT_NO_DNS + `* raw
-D PREROUTING -j ISTIO_PRERT
-F ISTIO_PRERT
-X ISTIO_PRERT
COMMIT
`,
    "raw keeps only its deletions once DNS capture is off",
  );
});

Deno.test("in-pod install: routes, ip rules, then one restore per family", () => {
  const lines = inpodInstallCommands(DEFAULT_INPOD_SETTINGS, NONE).map(formatCommand);
  assert.deepEqual(lines.map((l) => l.split("\n")[0]), [
    "ip -4 route replace local 0.0.0.0/0 dev lo table 100",
    "grep -qx 1 /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || ip -6 route replace local ::/0 dev lo table 100",
    "ip -4 rule add fwmark 0x111/0xfff pref 32764 lookup 100  # a failure matching /File exists/ means already done",
    "ip -6 rule add fwmark 0x111/0xfff pref 32764 lookup 100  # a failure matching /File exists/ means already done",
    "iptables-restore -w --noflush <<'EOF'",
    "ip6tables-restore -w --noflush <<'EOF'",
  ]);
  const cmds = inpodInstallCommands(DEFAULT_INPOD_SETTINGS, NONE);
  assert.equal(cmds[4].stdin, inpodRestoreText(4, DEFAULT_INPOD_SETTINGS, NONE));
  assert.equal(cmds[5].stdin, inpodRestoreText(6, DEFAULT_INPOD_SETTINGS, NONE));

  const v4only = { ...DEFAULT_INPOD_SETTINGS, ipv6: false };
  assert.deepEqual(inpodInstallCommands(v4only, NONE).map((c) => c.argv.slice(0, 2).join(" ")), [
    "ip -4",
    "ip -4",
    "iptables-restore -w",
  ]);
  const leftover = installedRules(SAVED);
  const withV6Leftover = inpodInstallCommands(v4only, NONE, { v4: NOTHING_INSTALLED, v6: leftover });
  assert.deepEqual(withV6Leftover.at(-1), {
    argv: ["ip6tables-restore", "-w", "--noflush"],
    stdin: inpodRemoveText(leftover),
  }, "IPv6 rules of an earlier install are removed when IPv6 is now off");
});

Deno.test("in-pod remove: installed rules of both families, then ip rules and routes, each harmless when absent", () => {
  const bare = inpodRemoveCommands().map(formatCommand);
  const gone = "  # a failure matching /No such file or directory|No such process|FIB table does not exist|" +
    "Address family not supported/ means already done";
  assert.deepEqual(bare, [
    "ip -4 rule del fwmark 0x111/0xfff pref 32764 lookup 100" + gone,
    "ip -6 rule del fwmark 0x111/0xfff pref 32764 lookup 100" + gone,
    "ip -4 route del local 0.0.0.0/0 dev lo table 100" + gone,
    "ip -6 route del local ::/0 dev lo table 100" + gone,
  ]);
  const both = installedRules(SAVED);
  const cmds = inpodRemoveCommands({ v4: both, v6: both });
  assert.deepEqual(cmds.slice(0, 2).map((c) => [c.argv[0], c.stdin]), [
    ["iptables-restore", inpodRemoveText(both)],
    ["ip6tables-restore", inpodRemoveText(both)],
  ]);
  assert.equal(cmds.length, 6);
});

Deno.test("in-pod commands run in the pod's namespace: argv and probes behind nsenter", () => {
  const c = inNetns("/var/run/netns/sleep", {
    argv: ["iptables", "-w", "-S"],
    onlyIf: ["true"],
    unless: ["false"],
  });
  assert.deepEqual(c.argv, ["nsenter", "--net=/var/run/netns/sleep", "--", "iptables", "-w", "-S"]);
  assert.deepEqual(c.onlyIf, ["nsenter", "--net=/var/run/netns/sleep", "--", "true"]);
  assert.deepEqual(c.unless, ["nsenter", "--net=/var/run/netns/sleep", "--", "false"]);
  const r = inNetns("/run/netns/a b", { argv: ["iptables-restore"], stdin: "x\n" });
  assert.equal(formatCommand(r), "nsenter '--net=/run/netns/a b' -- iptables-restore <<'EOF'\nx\nEOF");
});

Deno.test("in-pod rules refuse inputs that would change a rule's meaning", () => {
  const bad = (s: Partial<InpodSettings>, o: Partial<PodOverrides> = {}) =>
    assert.throws(
      () => inpodInstallCommands({ ...DEFAULT_INPOD_SETTINGS, ...s }, { ...NONE, ...o }),
      (e) => e instanceof ZtError && e.kind === "capture",
    );
  bad({ hostProbeSnatIp: "169.254.7.127 -j DROP" });
  bad({ hostProbeSnatIp: "fd00::1" });
  bad({ hostProbeSnatIpv6: "169.254.7.127" });
  bad({}, { virtualInterfaces: ["eth0 -j ACCEPT"] });
  bad({}, { virtualInterfaces: ["a-very-long-interface-name"] });
});
