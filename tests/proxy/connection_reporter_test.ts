/** Access-log records of lib/proxy/connection_reporter.ts: ztunnel's field names, known values only. */
import assert from "node:assert/strict";
import { Logger, LogSink, parseLogFilter } from "../../lib/log/logger.ts";
import { type ConnectionRecord, ConnectionReporter } from "../../lib/proxy/connection_reporter.ts";
import { workload } from "../state/fixtures.ts";

function reporter(): { r: ConnectionReporter; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new LogSink(parseLogFilter("info"), "json", (l) => lines.push(JSON.parse(l)));
  return { r: new ConnectionReporter(new Logger(sink, "access")), lines };
}

const base: ConnectionRecord = {
  id: "0af7651916cd43dd8448eb211c80319c",
  direction: "inbound",
  srcAddr: "10.0.0.5:40000",
  dstAddr: "10.0.0.6:15008",
  hboneAddr: "10.0.0.6:8080",
  startedAt: performance.now(),
  mtls: true,
};

Deno.test("access log: src.cluster and dst.cluster name the workloads' clusters, as ztunnel's do", () => {
  const { r, lines } = reporter();
  const rec: ConnectionRecord = {
    ...base,
    srcWorkload: { ...workload({ name: "sleep" }), clusterId: "east" },
    dstWorkload: { ...workload({ name: "web" }), clusterId: "west" },
  };
  r.completed(rec, r.opened(rec), { sent: 1, recv: 2 });
  assert.equal(lines[0]["src.cluster"], "east");
  assert.equal(lines[0]["dst.cluster"], "west");
});

Deno.test("access log: no cluster fields when the workloads (or their cluster ids) are unknown", () => {
  const { r, lines } = reporter();
  r.completed(base, r.opened(base), { sent: 0, recv: 0, error: "x" });
  const rec = { ...base, srcWorkload: { ...workload({ name: "sleep" }), clusterId: "" } };
  r.completed(rec, r.opened(rec), { sent: 0, recv: 0 });
  for (const l of lines) assert.ok(!("src.cluster" in l) && !("dst.cluster" in l), JSON.stringify(l));
});
