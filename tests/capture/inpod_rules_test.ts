/**
 * istio-cni's in-pod rule set as data: the restore text rule for rule as istio-cni's golden files
 * (cni/pkg/iptables/testdata/*.golden, read upstream; the expected text below is written from them),
 * the pod annotations, the install/remove commands (routes, ip rules, guardrails, cleanup) and input checks.
 */
import assert from "node:assert/strict";
import {
  DEFAULT_INPOD_SETTINGS,
  inpodInstallPlan,
  inpodRemoveCommands,
  inpodRestoreText,
  type InpodSettings,
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

Deno.test("in-pod install: routes, ip rules, guardrails only over residue, cleanup, restore; finally lifts guardrails", () => {
  const plan = inpodInstallPlan(DEFAULT_INPOD_SETTINGS, NONE);
  const lines = plan.commands.map(formatCommand);
  assert.deepEqual(lines.slice(0, 4), [
    "ip -4 route replace local 0.0.0.0/0 dev lo table 100",
    "grep -qx 1 /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || ip -6 route replace local ::/0 dev lo table 100",
    "ip -4 rule add fwmark 0x111/0xfff pref 32764 lookup 100  # a failure matching /File exists/ means already done",
    "ip -6 rule add fwmark 0x111/0xfff pref 32764 lookup 100  # a failure matching /File exists/ means already done",
  ]);
  assert.equal(
    lines[4],
    "if iptables -w -t nat -S ISTIO_OUTPUT >/dev/null 2>&1; then iptables -w -t filter -I INPUT 1 -p tcp -m comment --comment zt-inpod-guardrail -j DROP; fi",
  );
  assert.equal(lines.filter((l) => l.includes("-I") && l.includes("zt-inpod-guardrail")).length, 12);
  // The old rule set goes before the new one is restored, in both families.
  const firstRestore = lines.findIndex((l) => l.startsWith("iptables-restore"));
  const lastCleanup = lines.findLastIndex((l) => / -X ISTIO_/.test(l));
  assert.ok(lastCleanup >= 0 && lastCleanup < firstRestore);
  assert.ok(
    lines.includes(
      "if ip6tables -w -t nat -C OUTPUT -j ISTIO_OUTPUT >/dev/null 2>&1; then ip6tables -w -t nat -D OUTPUT -j ISTIO_OUTPUT; fi",
    ),
  );
  assert.ok(
    lines.includes(
      "if iptables -w -t raw -S ISTIO_PRERT >/dev/null 2>&1; then iptables -w -t raw -X ISTIO_PRERT; fi",
    ),
  );
  const restores = plan.commands.filter((c) => c.stdin !== undefined);
  assert.deepEqual(restores.map((c) => c.argv.join(" ")), [
    "iptables-restore -w --noflush",
    "ip6tables-restore -w --noflush",
  ]);
  assert.equal(restores[0].stdin, inpodRestoreText(4, DEFAULT_INPOD_SETTINGS, NONE));
  assert.equal(restores[1].stdin, inpodRestoreText(6, DEFAULT_INPOD_SETTINGS, NONE));
  assert.equal(plan.finally.length, 12);
  assert.equal(
    formatCommand(plan.finally[0]),
    "if iptables -w -t filter -C INPUT -p tcp -m comment --comment zt-inpod-guardrail -j DROP >/dev/null 2>&1; then iptables -w -t filter -D INPUT -p tcp -m comment --comment zt-inpod-guardrail -j DROP; fi",
  );

  const v4only = inpodInstallPlan({ ...DEFAULT_INPOD_SETTINGS, ipv6: false }, NONE);
  const v4lines = v4only.commands.map(formatCommand);
  assert.ok(
    !v4lines.some((l) => /ip -6|ip6tables-restore|ip6tables -w -t filter/.test(l)),
    "no IPv6 install",
  );
  assert.ok(v4lines.some((l) => l.includes("ip6tables -w -t nat -D OUTPUT")), "old IPv6 rules still removed");
  assert.equal(v4only.finally.length, 6);
});

Deno.test("in-pod remove: jumps, chains, ip rules and routes of both families, each harmless when absent", () => {
  const lines = inpodRemoveCommands().map(formatCommand);
  assert.equal(lines.length, 2 * (6 + 12) + 4);
  assert.equal(
    lines[0],
    "if iptables -w -t mangle -C PREROUTING -j ISTIO_PRERT >/dev/null 2>&1; then iptables -w -t mangle -D PREROUTING -j ISTIO_PRERT; fi",
  );
  // flushes before deletes: a chain still jumped to or holding rules cannot be deleted
  const v4 = lines.slice(0, 18);
  assert.ok(v4.findLastIndex((l) => l.includes(" -F ")) < v4.findIndex((l) => l.includes(" -X ")));
  assert.deepEqual(lines.slice(-4).map((l) => l.replace(/ {2}#.*/, "")), [
    "ip -4 rule del fwmark 0x111/0xfff pref 32764 lookup 100",
    "ip -6 rule del fwmark 0x111/0xfff pref 32764 lookup 100",
    "ip -4 route del local 0.0.0.0/0 dev lo table 100",
    "ip -6 route del local ::/0 dev lo table 100",
  ]);
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
      () => inpodInstallPlan({ ...DEFAULT_INPOD_SETTINGS, ...s }, { ...NONE, ...o }),
      (e) => e instanceof ZtError && e.kind === "capture",
    );
  bad({ hostProbeSnatIp: "169.254.7.127 -j DROP" });
  bad({ hostProbeSnatIp: "fd00::1" });
  bad({ hostProbeSnatIpv6: "169.254.7.127" });
  bad({}, { virtualInterfaces: ["eth0 -j ACCEPT"] });
  bad({}, { virtualInterfaces: ["a-very-long-interface-name"] });
});
