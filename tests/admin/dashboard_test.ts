import assert from "node:assert/strict";
import { escapeHtml, formatBytes, formatDuration, renderDashboard } from "../../lib/admin/dashboard.ts";

Deno.test("escapeHtml escapes the five HTML-special characters", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  assert.equal(escapeHtml(undefined), "");
  assert.equal(escapeHtml(42), "42");
});

Deno.test("byte and duration formatting", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
  assert.equal(formatDuration(999), "0s");
  assert.equal(formatDuration(65_000), "1m5s");
  assert.equal(formatDuration(3 * 3600_000 + 120_000), "3h2m");
  assert.equal(formatDuration(2 * 86400_000 + 3600_000), "2d1h");
});

Deno.test("dashboard shows certificates with expiry, tolerates a partial dump, escapes names", () => {
  const now = Date.parse("2024-01-01T00:00:00Z");
  const html = renderDashboard({
    now,
    connections: [],
    dump: {
      workloads: [{ name: "a&b", namespace: "ns", workloadIps: ["10.0.0.1"], protocol: "HBONE" }],
      certificates: [
        {
          identity: "spiffe://cluster.local/ns/ns/sa/a",
          state: "Available",
          certChain: [{ expirationTime: "2024-01-01T02:00:00Z", serialNumber: "123" }],
        },
        {
          identity: "spiffe://cluster.local/ns/ns/sa/old",
          state: "Available",
          certChain: [{ expirationTime: "2023-01-01T00:00:00Z" }],
        },
        { identity: "spiffe://cluster.local/ns/ns/sa/b", state: "Unavailable: <boom>" },
      ],
    },
  });
  assert.ok(html.includes("<td>a&amp;b</td>"));
  assert.ok(html.includes("<td>in 2h0m</td>"));
  assert.ok(html.includes("<td>expired</td>"));
  assert.ok(html.includes("Unavailable: &lt;boom&gt;"));
  assert.ok(html.includes("no live connections"));
  assert.ok(html.includes("workloads: <b>1</b>"));
  // nothing at all still renders
  assert.match(renderDashboard({ dump: null, connections: [], now }), /no workloads/);
});
