import assert from "node:assert/strict";
import { formatLogFilter, Logger, LogSink, parseLogFilter } from "../../lib/log/logger.ts";

function capture(spec: string, format: "plain" | "json" = "plain") {
  const lines: string[] = [];
  const sink = new LogSink(parseLogFilter(spec), format, (l) => lines.push(l));
  return { lines, sink, log: (scope: string) => new Logger(sink, scope) };
}

Deno.test("RUST_LOG-style filters: default level, per component, both separators", () => {
  const f = parseLogFilter("warn,xds=debug,inbound:trace");
  assert.equal(f.defaultLevel, "warn");
  assert.equal(f.components.get("xds"), "debug");
  assert.equal(f.components.get("inbound"), "trace");
  assert.equal(formatLogFilter(f), "warn,xds=debug,inbound=trace");
  assert.throws(() => parseLogFilter("xds=chatty"), /invalid log level "chatty"/);
});

Deno.test("a filter's ignored targets are one warning at start, even when the filter is off", () => {
  const lines: string[] = [];
  new LogSink(parseLogFilter("off,hickory_server::server=off,bogus=debug"), "json", (l) => lines.push(l));
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]);
  assert.equal(rec.level, "warn");
  assert.equal(rec.scope, "zt");
  assert.match(rec.message, /no zt counterpart: hickory_server::server, bogus /);
  const quiet: string[] = [];
  new LogSink(parseLogFilter("info,ztunnel::proxy=debug"), "json", (l) => quiet.push(l));
  assert.deepEqual(quiet, [], "nothing to warn about");
});

Deno.test("levels apply per component; dotted scopes inherit", () => {
  const { lines, log } = capture("info,xds=debug");
  log("xds").debug("a");
  log("xds.client").debug("b");
  log("inbound").debug("c");
  log("inbound").info("d");
  assert.deepEqual(lines.map((l) => l.split("\t")[3]), ["a", "b", "d"]);
});

Deno.test("plain lines: time, level, scope, message, k=v with quoting", () => {
  const { lines, log } = capture("info");
  log("access").info("connection complete", {
    "src.addr": "10.0.0.1:5",
    "src.identity": "spiffe://x y",
    bytes_sent: 3,
    none: undefined,
  });
  const [time, level, scope, msg, fields] = lines[0].split("\t");
  assert.ok(!Number.isNaN(Date.parse(time)));
  assert.deepEqual([level, scope, msg], ["info", "access", "connection complete"]);
  assert.equal(fields, `src.addr=10.0.0.1:5 src.identity="spiffe://x y" bytes_sent=3`);
});

Deno.test("LOG_FORMAT=json: level, time, scope, message, then the fields", () => {
  const { lines, log } = capture("info", "json");
  log("access").error("connection complete", { direction: "inbound", bytes_recv: 7 });
  const rec = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(rec), ["level", "time", "scope", "message", "direction", "bytes_recv"]);
  assert.equal(rec.level, "error");
  assert.equal(rec.bytes_recv, 7);
});

Deno.test("a runtime filter change takes effect at once; reset restores the start filter", () => {
  const { lines, sink, log } = capture("info");
  const l = log("policy");
  l.debug("hidden");
  sink.setFilter(parseLogFilter("policy=debug"));
  l.debug("shown");
  sink.reset();
  l.debug("hidden again");
  assert.deepEqual(lines.map((x) => x.split("\t")[3]), ["shown"]);
});
