/** The capture rules as data: exact commands, deterministic order, removal mirroring install, validation. */
import assert from "node:assert/strict";
import {
  CHAINS,
  formatCommand,
  installCommands,
  mangleRuleset,
  removeCommands,
} from "../../lib/capture/redirect_rules.ts";
import { ZtError } from "../../lib/error.ts";

const SLEEP = { namespace: "ambient-demo", name: "sleep", ip: "10.250.1.10", iface: "v-sleep" };
const HTTPBIN = { namespace: "ambient-demo", name: "httpbin-1", ip: "10.250.1.12", iface: "v-httpbin-1" };

Deno.test("redirect rules: the exact mangle ruleset for two pods", () => {
  assert.equal(
    mangleRuleset([HTTPBIN, SLEEP]),
    `*mangle
:ZT_PREROUTING - [0:0]
:ZT_OUTPUT - [0:0]
:ZT_OUTBOUND - [0:0]
:ZT_INBOUND - [0:0]
:ZT_DIVERT - [0:0]
-A ZT_DIVERT -j MARK --set-xmark 0x400/0xfff
-A ZT_DIVERT -j ACCEPT
-A ZT_PREROUTING -m mark --mark 0x539/0xfff -j RETURN
-A ZT_PREROUTING -p tcp -m socket --transparent -j ZT_DIVERT
-A ZT_PREROUTING -j ZT_OUTBOUND
-A ZT_PREROUTING -j ZT_INBOUND
-A ZT_OUTPUT -m mark --mark 0x539/0xfff -j RETURN
-A ZT_OUTBOUND -s 10.250.1.10/32 -i v-sleep -p tcp -m tcp --syn -m comment --comment ambient-demo/sleep -j TPROXY --on-port 15001 --tproxy-mark 0x400/0xfff
-A ZT_INBOUND -d 10.250.1.10/32 -p tcp -m tcp --dport 15008 --syn -m comment --comment ambient-demo/sleep -j TPROXY --on-port 15008 --tproxy-mark 0x400/0xfff
-A ZT_INBOUND -d 10.250.1.10/32 -p tcp -m tcp --syn -m comment --comment ambient-demo/sleep -j TPROXY --on-port 15006 --tproxy-mark 0x400/0xfff
-A ZT_OUTPUT -d 10.250.1.10/32 -p tcp -m tcp --dport 15008 -m comment --comment ambient-demo/sleep -j MARK --set-xmark 0x400/0xfff
-A ZT_OUTBOUND -s 10.250.1.12/32 -i v-httpbin-1 -p tcp -m tcp --syn -m comment --comment ambient-demo/httpbin-1 -j TPROXY --on-port 15001 --tproxy-mark 0x400/0xfff
-A ZT_INBOUND -d 10.250.1.12/32 -p tcp -m tcp --dport 15008 --syn -m comment --comment ambient-demo/httpbin-1 -j TPROXY --on-port 15008 --tproxy-mark 0x400/0xfff
-A ZT_INBOUND -d 10.250.1.12/32 -p tcp -m tcp --syn -m comment --comment ambient-demo/httpbin-1 -j TPROXY --on-port 15006 --tproxy-mark 0x400/0xfff
-A ZT_OUTPUT -d 10.250.1.12/32 -p tcp -m tcp --dport 15008 -m comment --comment ambient-demo/httpbin-1 -j MARK --set-xmark 0x400/0xfff
COMMIT
`,
  );
});

Deno.test("redirect rules: install commands, in order; the same pods in any order give the same commands", () => {
  const cmds = installCommands([SLEEP, HTTPBIN]);
  assert.deepEqual(cmds.map(formatCommand).map((l) => l.split("\n")[0]), [
    "sysctl -q -w net.ipv4.ip_nonlocal_bind=1",
    "ip -4 route replace local 0.0.0.0/0 dev lo table 100",
    "ip -4 rule add pref 100 fwmark 0x400/0xfff lookup 100  # a failure matching /File exists/ means already done",
    "iptables-restore -w --noflush <<'EOF'",
    "iptables -w -t mangle -C PREROUTING -j ZT_PREROUTING 2>/dev/null || iptables -w -t mangle -I PREROUTING 1 -j ZT_PREROUTING",
    "iptables -w -t mangle -C OUTPUT -j ZT_OUTPUT 2>/dev/null || iptables -w -t mangle -I OUTPUT 1 -j ZT_OUTPUT",
  ]);
  assert.deepEqual(installCommands([HTTPBIN, SLEEP]), cmds);
  assert.match(formatCommand(cmds[3]), /\nCOMMIT\nEOF$/);
});

Deno.test("redirect rules: remove undoes every chain, hook, ip rule, route and sysctl install sets", () => {
  const install = installCommands([SLEEP]);
  const remove = removeCommands();
  const lines = remove.map(formatCommand);
  // Hooks: each inserted hook is deleted, only if present.
  for (const c of install.filter((c) => c.unless)) {
    const del = c.argv.map((a) => (a === "-I" ? "-D" : a)).filter((a) => a !== "1");
    assert.ok(
      remove.some((r) => r.argv.join(" ") === del.join(" ") && r.onlyIf),
      `no unhook for ${c.argv.join(" ")}`,
    );
  }
  // Chains: every chain the ruleset declares is flushed, then deleted (after all flushes).
  const declared = [...mangleRuleset([SLEEP]).matchAll(/^:(\S+) /gm)].map((m) => m[1]);
  assert.deepEqual(declared, [...CHAINS]);
  for (const chain of declared) {
    const f = lines.findIndex((l) => l.endsWith(`iptables -w -t mangle -F ${chain}; fi`));
    const x = lines.findIndex((l) => l.endsWith(`iptables -w -t mangle -X ${chain}; fi`));
    assert.ok(
      f >= 0 && x > f && lines.slice(0, x).filter((l) => l.includes(" -F ")).length === CHAINS.length,
    );
  }
  assert.ok(
    lines.includes(
      "ip -4 rule del pref 100 fwmark 0x400/0xfff lookup 100  # a failure matching /No such file or directory/ means already done",
    ),
  );
  assert.ok(lines.some((l) => l.startsWith("ip -4 route del local 0.0.0.0/0 dev lo table 100")));
  assert.equal(lines.at(-1), "sysctl -q -w net.ipv4.ip_nonlocal_bind=0");
  // Unhooking comes first: a chain still referenced cannot be deleted.
  assert.ok(
    lines.findIndex((l) => l.includes(" -D PREROUTING ")) < lines.findIndex((l) => l.includes(" -X ")),
  );
});

Deno.test("redirect rules: no pods still installs the frame (and removes the same way)", () => {
  const ruleset = mangleRuleset([]);
  assert.doesNotMatch(ruleset, /TPROXY/);
  assert.match(ruleset, /-A ZT_PREROUTING -p tcp -m socket --transparent -j ZT_DIVERT/);
});

Deno.test("redirect rules: config values that could change a rule's meaning are refused", () => {
  const bad = [
    { ...SLEEP, ip: "10.250.1.10/0" },
    { ...SLEEP, ip: "fd00::1" },
    { ...SLEEP, iface: "v-sleep -j ACCEPT" },
    { ...SLEEP, iface: "a-very-long-interface" },
    { ...SLEEP, name: "sleep --comment x" },
  ];
  for (const pod of bad) {
    assert.throws(
      () => installCommands([pod]),
      (e) => e instanceof ZtError && e.kind === "capture",
      JSON.stringify(pod),
    );
  }
});
