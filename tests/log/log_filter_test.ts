/** RUST_LOG as ztunnel reads it (tracing's Targets), mapped onto zt's scopes. */
import assert from "node:assert/strict";
import {
  formatLogFilter,
  levelFor,
  LEVELS,
  LOG_SCOPES,
  type LogFilter,
  parseLogFilter,
  ztunnelTargetScopes,
} from "../../lib/log/log_filter.ts";

/** Every scope's level under `spec`, for scopes whose level differs from the default. */
function levels(f: LogFilter): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of LOG_SCOPES) if (levelFor(f, s) !== f.defaultLevel) out[s] = levelFor(f, s);
  return out;
}

Deno.test("the chart's default RUST_LOG and ztunnel's own default filter", () => {
  const chart = parseLogFilter("info");
  assert.equal(chart.defaultLevel, "info");
  assert.equal(chart.ignored, undefined);
  // ztunnel prepends hickory_server::server=off: no zt counterpart, ignored (and reported), info stays.
  const z = parseLogFilter("hickory_server::server=off,info");
  assert.equal(z.defaultLevel, "info");
  assert.deepEqual(z.ignored, ["hickory_server::server"]);
  assert.deepEqual(levels(z), {});
  assert.equal(formatLogFilter(z), "info");
});

Deno.test("ztunnel's module targets set the zt scopes doing that work", () => {
  assert.deepEqual(levels(parseLogFilter("info,ztunnel::proxy::inbound=trace")), { inbound: "trace" });
  assert.deepEqual(levels(parseLogFilter("info,ztunnel::proxy=debug")), {
    capture: "debug",
    inbound: "debug",
    outbound: "debug",
    tunnel: "debug",
  });
  assert.deepEqual(levels(parseLogFilter("info,ztunnel::xds=debug")), { xds: "debug" });
  assert.deepEqual(levels(parseLogFilter("info,ztunnel::state=debug")), { xds: "debug", policy: "debug" });
  assert.deepEqual(levels(parseLogFilter("info,access=warn,dns=debug")), { access: "warn", dns: "debug" });
  // `ztunnel` is every ztunnel module, but not the `access` target (nor `dns`, ztunnel's DNS access log)
  const all = levels(parseLogFilter("warn,ztunnel=debug"));
  assert.equal(all.access, undefined);
  for (const s of LOG_SCOPES.filter((s) => s !== "access")) assert.equal(all[s], "debug", s);
  // a sub-module zt has no separate scope for: its closest known module
  assert.deepEqual(levels(parseLogFilter("info,ztunnel::xds::client=trace")), { xds: "trace" });
  // tracing's prefix match: `ztunnel::proxy::inbound` also covers inbound_passthrough (zt: inbound)
  assert.deepEqual(ztunnelTargetScopes("ztunnel::proxy::inbound"), ["inbound"]);
  assert.deepEqual(ztunnelTargetScopes("hickory_server"), []);
});

Deno.test("the most specific directive wins, whatever the order; a zt scope beats any module path", () => {
  for (
    const spec of [
      "info,ztunnel::proxy=debug,ztunnel::proxy::inbound=trace",
      "info,ztunnel::proxy::inbound=trace,ztunnel::proxy=debug",
    ]
  ) {
    const l = levels(parseLogFilter(spec));
    assert.equal(l.inbound, "trace", spec);
    assert.equal(l.outbound, "debug", spec);
  }
  assert.equal(
    levelFor(parseLogFilter("info,inbound=warn,ztunnel::proxy::inbound=trace"), "inbound"),
    "warn",
  );
  // equally specific: the later one (re-setting a target moves it last)
  assert.equal(levelFor(parseLogFilter("info,xds=debug,xds=error"), "xds"), "error");
  const merged = parseLogFilter("xds=trace", { base: parseLogFilter("info,xds=debug,inbound=warn") });
  assert.equal(formatLogFilter(merged), "info,inbound=warn,xds=trace");
  // dotted zt scopes inherit from their head, which a module path can set
  assert.equal(levelFor(parseLogFilter("info,ztunnel::xds=debug"), "xds.client"), "debug");
  assert.equal(levelFor(parseLogFilter("info,ztunnel::xds=debug,xds.client=error"), "xds.client"), "error");
});

Deno.test("without a bare level the default is off (tracing's Targets); a blank filter is info", () => {
  const f = parseLogFilter("ztunnel::proxy=debug");
  assert.equal(f.defaultLevel, "off");
  assert.equal(levelFor(f, "xds"), "off");
  assert.equal(levelFor(f, "outbound"), "debug");
  assert.equal(parseLogFilter("").defaultLevel, "info");
  assert.equal(parseLogFilter(" , ").defaultLevel, "info");
});

Deno.test("bare targets: trace in RUST_LOG (tracing), refused in /logging (ztunnel's validate_log_level)", () => {
  const f = parseLogFilter("info,ztunnel::inpod");
  assert.equal(levelFor(f, "inpod"), "trace");
  const typo = parseLogFilter("loud");
  assert.deepEqual(typo.ignored, ["loud"]);
  assert.equal(typo.defaultLevel, "off");
  const base = parseLogFilter("info");
  assert.throws(() => parseLogFilter("ztunnel::inpod", { base }), /level "ztunnel::inpod" .* is invalid/);
  assert.throws(() => parseLogFilter("loud", { base }), /is invalid/);
  assert.equal(parseLogFilter("loud", { base, bareTarget: "trace" }).ignored?.[0], "loud");
});

Deno.test("separators: `=`, and `:` when it is not a Rust path's `::`", () => {
  assert.equal(levelFor(parseLogFilter("info,ztunnel::proxy::outbound:debug"), "outbound"), "debug");
  assert.equal(levelFor(parseLogFilter("info,access:DEBUG"), "access"), "debug", "levels ignore case");
  assert.throws(() => parseLogFilter("xds:verbose"), /invalid log level "verbose"/);
  assert.throws(() => parseLogFilter("=debug"), /has no target/);
  assert.throws(() => parseLogFilter("xds=debug=trace"), /invalid log level/);
  for (const l of LEVELS) assert.equal(parseLogFilter(l).defaultLevel, l);
});

Deno.test("unknown targets are dropped and listed once, in order", () => {
  const f = parseLogFilter("info,foo=debug,xds=debug,h2=trace,foo=warn,rustls[{x}]=off");
  assert.deepEqual(f.ignored, ["foo", "h2", "rustls[{x}]"]);
  assert.equal(formatLogFilter(f), "info,xds=debug");
});
