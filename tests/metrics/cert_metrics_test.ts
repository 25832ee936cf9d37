import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { Registry } from "../../lib/metrics/registry.ts";
import { type CertificateEntryLike, registerCertificateMetrics } from "../../lib/metrics/cert_metrics.ts";

type Parsed = { name: string; metrics: { value: string; labels?: Record<string, string> }[] };

Deno.test("certificate expiry and availability follow the cert manager's entries at scrape", () => {
  const r = new Registry();
  let certs: CertificateEntryLike[] = [];
  registerCertificateMetrics(r, () => certs);
  const scrape = () => new Map((parsePrometheus(r.encode()) as Parsed[]).map((f) => [f.name, f.metrics]));
  assert.deepEqual(scrape().get("zt_certificate_expiration_timestamp_seconds"), []);
  certs = [
    {
      identity: "spiffe://cluster.local/ns/default/sa/sleep",
      state: "Available",
      certChain: [{ expirationTime: "2033-09-16T18:26:19Z" }, { expirationTime: "2040-01-01T00:00:00Z" }],
    },
    { identity: "spiffe://cluster.local/ns/default/sa/httpbin", state: "Initializing", certChain: [] },
  ];
  const m = scrape();
  assert.deepEqual(m.get("zt_certificate_expiration_timestamp_seconds"), [
    {
      value: String(Date.parse("2033-09-16T18:26:19Z") / 1000),
      labels: { identity: "spiffe://cluster.local/ns/default/sa/sleep" },
    },
  ]);
  assert.deepEqual(m.get("zt_certificate_available")!.map((x) => x.value), ["1", "0"]);
});
