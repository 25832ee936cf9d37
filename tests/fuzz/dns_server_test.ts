/**
 * Property-based fuzzing of the DNS server's input: whatever bytes a pod sends, handle() settles (never
 * throws), and answers either nothing (shorter than a header) or a well-formed response with the request's
 * id that fits in 512 bytes over UDP.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMessage } from "../../lib/dns/dns_decoder.ts";
import { DnsMetrics } from "../../lib/dns/dns_metrics.ts";
import { DnsRejections } from "../../lib/dns/dns_rejections.ts";
import { DnsServer } from "../../lib/dns/dns_server.ts";
import { Forwarder } from "../../lib/dns/forwarder.ts";
import { NameResolver } from "../../lib/dns/name_resolver.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { Registry } from "../../lib/metrics/registry.ts";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { buildQuery } from "../fakes/dns_client.ts";
import { service, workload } from "../state/fixtures.ts";
import { fuzzParams } from "./budget.ts";

function server(): DnsServer {
  const state = new ProxyState();
  state.upsertService(service({ name: "httpbin", namespace: "ns", vips: ["/10.96.0.20", "/fd00::20"] }));
  state.upsertService(
    service({ name: "*.wild", namespace: "ns", hostname: "*.wild", vips: ["/10.96.0.21"] }),
  );
  const pod = workload({ name: "sleep", namespace: "ns", workloadIps: ["10.0.0.1"] });
  const none = { bindUdp: () => Promise.reject(), connectTcp: () => Promise.reject() } as never;
  const registry = new Registry();
  return new DnsServer({
    sockets: none,
    addresses: [],
    resolver: new NameResolver({
      state,
      clusterDomain: "cluster.local",
      ipv6Enabled: true,
      forwarderFor: () => new Forwarder({ sockets: none, upstreams: [] }),
    }),
    clientWorkload: () => pod,
    metrics: new DnsMetrics(registry),
    rejections: new DnsRejections(registry, silentLogger()),
    log: silentLogger(),
  });
}

const seeds = ["httpbin", "httpbin.ns.svc.cluster.local", "a.b.wild", "example.org"].flatMap((n) =>
  ["A", "AAAA", "MX"].map((type) => buildQuery(n, { type, edns: 1232 }))
);

async function check(s: DnsServer, input: Uint8Array): Promise<void> {
  const out = await s.handle(input, "udp");
  if (input.length < 12) {
    assert.equal(out, undefined);
    return;
  }
  assert.ok(out, "a request with a header gets an answer");
  assert.ok(out.length <= 512 || decodeMessage(input).edns !== undefined, "over 512 bytes only with EDNS");
  const m = decodeMessage(out);
  assert.equal(m.id, (input[0] << 8) | input[1]);
  assert.equal(m.qr, true);
}

Deno.test("fuzz dns server: arbitrary packets settle with nothing or a well-formed response", async () => {
  const s = server();
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (b) => check(s, b)), fuzzParams());
});

Deno.test("fuzz dns server: mutated queries settle with a well-formed response", async () => {
  const s = server();
  const mutation = fc.record({
    seed: fc.integer({ min: 0, max: seeds.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
  });
  await fc.assert(
    fc.asyncProperty(mutation, async ({ seed, edits }) => {
      const b = seeds[seed].slice();
      for (const [at, v] of edits) b[12 + (at % (b.length - 12))] = v;
      await check(s, b);
    }),
    fuzzParams(),
  );
});
