import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { Registry } from "../../lib/metrics/registry.ts";
import { negotiateFormat, serveMetrics } from "../../lib/metrics/metrics_server.ts";

function setup() {
  const registry = new Registry();
  registry.counter({ name: "served", help: "Served.", labelNames: ["k"] }).labels(["v"]).inc(7);
  const server = serveMetrics({ hostname: "127.0.0.1", port: 0, registry });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { server, base };
}

Deno.test("metrics server: /metrics and /stats/prometheus serve Prometheus text", async () => {
  const { server, base } = setup();
  try {
    for (const path of ["/metrics", "/stats/prometheus"]) {
      const res = await fetch(base + path);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();
      const [fam] = parsePrometheus(text) as { name: string; metrics: { value: string }[] }[];
      assert.equal(fam.name, "served_total");
      assert.equal(fam.metrics[0].value, "7");
      assert.ok(!text.includes("# EOF"));
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("metrics server: OpenMetrics when the Accept header asks for it", async () => {
  const { server, base } = setup();
  try {
    const res = await fetch(base + "/metrics", {
      headers: { accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" },
    });
    assert.equal(
      res.headers.get("content-type"),
      "application/openmetrics-text; version=1.0.0; charset=utf-8",
    );
    const text = await res.text();
    assert.ok(text.endsWith("# EOF\n"));
    assert.ok(text.includes("# TYPE served counter\n"));
  } finally {
    await server.shutdown();
  }
});

Deno.test("metrics server: 404 for other paths, 405 for other methods", async () => {
  const { server, base } = setup();
  try {
    const nf = await fetch(base + "/nope");
    assert.equal(nf.status, 404);
    await nf.body?.cancel();
    const post = await fetch(base + "/metrics", { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET");
    await post.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("metrics server stops when its signal aborts", async () => {
  const ac = new AbortController();
  const server = serveMetrics({
    hostname: "127.0.0.1",
    port: 0,
    registry: new Registry(),
    signal: ac.signal,
  });
  ac.abort();
  await server.finished;
  await assert.rejects(fetch(`http://127.0.0.1:${server.addr.port}/metrics`));
});

Deno.test("format negotiation", () => {
  assert.equal(negotiateFormat(null), "prometheus");
  assert.equal(negotiateFormat("text/plain"), "prometheus");
  assert.equal(negotiateFormat("Application/OpenMetrics-Text; version=1.0.0"), "openmetrics");
});
