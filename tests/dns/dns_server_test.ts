/**
 * A pod's DNS proxy in-process, on real sockets from the socket seam, against a real upstream DNS
 * server (tests/fakes/dns_upstream.ts) and a client on dns-packet: local answers, forwarding that
 * re-resolves (the upstream's records, NXDOMAIN and SERVFAIL kept, our own header), EDNS, truncation,
 * bad input next to good queries, per-pod isolation, metrics.
 */
import assert from "node:assert/strict";
import { DnsProxies } from "../../lib/dns/dns_proxies.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { Registry } from "../../lib/metrics/registry.ts";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { netKit } from "../net/net_fixture.ts";
import { buildQuery, query, readAnswer, tcpExchange, udpExchange } from "../fakes/dns_client.ts";
import { DnsUpstream, type ZoneEntry } from "../fakes/dns_upstream.ts";
import { service, workload } from "../state/fixtures.ts";

const POD_IP = "127.53.0.1";
const POD2_IP = "127.53.0.2";
const UPSTREAM_IP = "127.53.9.1";

const sleep = workload({
  name: "sleep",
  namespace: "ambient-demo",
  workloadIps: [POD_IP],
  canonicalName: "sleep",
  canonicalRevision: "v1",
});
const other = workload({ name: "other", namespace: "ambient-demo", workloadIps: [POD2_IP] });

const LARGE = Array.from({ length: 256 }, (_, i) => `240.0.0.${i}`);
const ZONE: Record<string, ZoneEntry> = {
  "example.org": { A: ["93.184.0.1"], AAAA: ["2001:db8::1"], TXT: "hello" },
  "alias.example.org": { CNAME: "example.org" },
  "broken.example.org": { servfail: true },
  "large.com": { A: LARGE },
  "big.example.org": { truncateUdp: true, A: ["10.20.30.40"] },
  "slow.example.org": { delayMs: 400, A: ["10.1.1.1"] },
  "dead.example.org": { silent: true },
};

interface Fixture {
  state: ProxyState;
  registry: Registry;
  dns: DnsProxies;
  upstream: DnsUpstream;
  pod: { ip: string; port: number };
  pod2: { ip: string; port: number };
  close(): Promise<void>;
}

async function setup(opts: { maxInFlight?: number; timeoutMs?: number } = {}): Promise<Fixture> {
  const kit = netKit();
  const upstream = await DnsUpstream.start(UPSTREAM_IP, ZONE);
  const state = new ProxyState();
  state.upsertWorkload(sleep);
  state.upsertWorkload(other);
  state.upsertService(
    service({ name: "httpbin", namespace: "ambient-demo", vips: ["/10.96.0.20"], canonical: false }),
  );
  state.upsertService(service({ name: "db", namespace: "ambient-demo", vips: [], canonical: false }));
  state.upsertWorkload(workload({
    name: "db-0",
    namespace: "ambient-demo",
    workloadIps: ["10.244.0.7"],
    services: { "ambient-demo/db.ambient-demo.svc.cluster.local": { 5432: 5432 } },
  }));
  const registry = new Registry();
  const dns = new DnsProxies({
    state,
    sockets: kit.factory(),
    registry,
    log: silentLogger(),
    clusterDomain: "cluster.local",
    ipv6Enabled: true,
    proxyAddr: { host: "localhost", port: 0 },
    upstreams: [upstream.address],
    upstreamTimeoutMs: opts.timeoutMs ?? 250,
    upstreamAttempts: 1,
    upstreamMaxInFlight: opts.maxInFlight,
  });
  const a = dns.startPod(sleep.uid, { ip: POD_IP });
  const b = dns.startPod(other.uid, { ip: POD2_IP });
  return {
    state,
    registry,
    dns,
    upstream,
    pod: a.bound[0],
    pod2: b.bound[0],
    close: async () => {
      a.close();
      b.close();
      await upstream.close();
      kit.close();
    },
  };
}

Deno.test("dns server: mesh names answered locally (AA=1, RA=1, TTL 30), over UDP and TCP", async () => {
  const f = await setup();
  try {
    for (const transport of ["udp", "tcp"] as const) {
      const r = await query(f.pod, "httpbin.ambient-demo.svc.cluster.local", { transport });
      assert.equal(r.rcode, "NOERROR");
      assert.equal(r.aa, true);
      assert.equal(r.ra, true);
      assert.deepEqual(r.answers?.map((a) => [a.name, a.type, a.ttl, a.data]), [
        ["httpbin.ambient-demo.svc.cluster.local", "A", 30, "10.96.0.20"],
      ]);
      const short = await query(f.pod, "httpbin", { transport });
      assert.deepEqual(short.answers?.map((a) => [a.name, a.data]), [["httpbin", "10.96.0.20"]]);
    }
    const cname = await query(f.pod, "httpbin.ambient-demo.svc.cluster.local.ambient-demo.svc.cluster.local");
    assert.deepEqual(cname.answers?.map((a) => [a.type, a.name, a.data]), [
      [
        "CNAME",
        "httpbin.ambient-demo.svc.cluster.local.ambient-demo.svc.cluster.local",
        "httpbin.ambient-demo.svc.cluster.local",
      ],
      ["A", "httpbin.ambient-demo.svc.cluster.local", "10.96.0.20"],
    ]);
    const headless = await query(f.pod, "db.ambient-demo");
    assert.deepEqual(headless.answers?.map((a) => a.data), ["10.244.0.7"]);
    const nodata = await query(f.pod, "httpbin", { type: "AAAA" });
    assert.deepEqual([nodata.rcode, nodata.aa, nodata.answers?.length], ["NOERROR", true, 0]);
    assert.equal(f.upstream.count(), 0, "nothing local went upstream");
  } finally {
    await f.close();
  }
});

Deno.test("dns server: other names are re-resolved upstream — its records and rcodes kept, our own header", async () => {
  const f = await setup();
  try {
    const r = await query(f.pod, "example.org", { id: 777 });
    assert.deepEqual([r.id, r.rcode, r.aa, r.ra], [777, "NOERROR", false, true]);
    assert.deepEqual(r.answers?.map((a) => [a.name, a.type, a.ttl, a.data]), [[
      "example.org",
      "A",
      300,
      "93.184.0.1",
    ]]);
    const seen = f.upstream.queries.at(-1)!;
    assert.equal(seen.name, "example.org");
    assert.equal(seen.rd, true);
    assert.equal(seen.edns, true, "zt's own query (EDNS 1232), not the client's packet");
    const chain = await query(f.pod, "alias.example.org");
    assert.deepEqual(chain.answers?.map((a) => [a.type, a.data]), [["CNAME", "example.org"], [
      "A",
      "93.184.0.1",
    ]]);
    const txt = await query(f.pod, "example.org", { type: "TXT" });
    assert.equal(txt.answers?.[0].type, "TXT");
    const mx = await query(f.pod, "httpbin", { type: "MX" });
    assert.equal(mx.rcode, "NXDOMAIN", "non-A/AAAA types are forwarded even for mesh names");
    const nx = await query(f.pod, "nope.example.org");
    assert.deepEqual([nx.rcode, nx.aa, nx.ra], ["NXDOMAIN", false, true]);
    const sf = await query(f.pod, "broken.example.org");
    assert.equal(sf.rcode, "SERVFAIL");
    const dead = await query(f.pod, "dead.example.org");
    assert.equal(dead.rcode, "SERVFAIL", "an upstream that does not answer is SERVFAIL");
    const big = await query(f.pod, "big.example.org");
    assert.deepEqual(big.answers?.map((a) => a.data), ["10.20.30.40"]);
    assert.equal(
      f.upstream.queries.filter((q) => q.name === "big.example.org").map((q) => q.transport).join(),
      "udp,tcp",
    );
  } finally {
    await f.close();
  }
});

Deno.test("dns server: UDP answers truncate at the client's limit with TC=1 (EDNS honoured); TCP never", async () => {
  const f = await setup();
  try {
    const plain = await query(f.pod, "large.com");
    assert.equal(plain.tc, true);
    assert.ok(plain.size <= 512, `${plain.size} bytes`);
    assert.equal(plain.answers?.length, 30);
    const edns = await query(f.pod, "large.com", { edns: 1232 });
    assert.equal(edns.tc, true);
    assert.equal(edns.answers?.length, 74, "ztunnel's large_response: 74 of 256 records fit");
    assert.ok(edns.size <= 1232);
    const opt = edns.additionals?.find((a) => a.type === "OPT");
    assert.equal(opt?.udpPayloadSize, 1232);
    const tcp = await query(f.pod, "large.com", { transport: "tcp" });
    assert.deepEqual([tcp.tc, tcp.answers?.length], [false, 256]);
    const small = await query(f.pod, "httpbin", { edns: 100, dnssecOk: true });
    const o = small.additionals?.find((a) => a.type === "OPT") as { udpPayloadSize?: number; flags?: number };
    assert.equal(o.udpPayloadSize, 512, "the OPT payload is max(requested, 512)");
    assert.equal((o.flags ?? 0) & 0x8000, 0x8000, "DO copied");
  } finally {
    await f.close();
  }
});

Deno.test("dns server: bad packets are dropped or get FORMERR/NOTIMP, counted; good queries go on", async () => {
  const f = await setup();
  try {
    assert.equal(
      await udpExchange(f.pod, new Uint8Array([1, 2, 3]), 300),
      undefined,
      "shorter than a header: dropped",
    );
    const junk = new Uint8Array([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1]);
    const fe = readAnswer((await udpExchange(f.pod, junk))!);
    assert.deepEqual([fe.id, fe.rcode], [0x1234, "FORMERR"]);
    const q = buildQuery("httpbin");
    const asResponse = new Uint8Array(q);
    asResponse[2] |= 0x80;
    assert.equal(readAnswer((await udpExchange(f.pod, asResponse))!).rcode, "FORMERR");
    const update = new Uint8Array(q);
    update[2] = (update[2] & 0x87) | (5 << 3);
    assert.equal(readAnswer((await udpExchange(f.pod, update))!).rcode, "NOTIMP");
    const two = new Uint8Array(q);
    two[5] = 2;
    assert.equal(readAnswer((await udpExchange(f.pod, two))!).rcode, "FORMERR");
    const [tcpBad, tcpGood] = await tcpExchange(f.pod, [junk, buildQuery("httpbin", { id: 9 })]);
    assert.equal(readAnswer(tcpBad).rcode, "FORMERR");
    assert.deepEqual([readAnswer(tcpGood).id, readAnswer(tcpGood).answers?.[0].data], [9, "10.96.0.20"]);
    assert.equal((await query(f.pod, "httpbin")).answers?.[0].data, "10.96.0.20");
    assert.equal(f.dns.rejections.count("short"), 1);
    assert.equal(f.dns.rejections.count("malformed"), 4);
    assert.equal(f.dns.rejections.count("not_query"), 1);
  } finally {
    await f.close();
  }
});

Deno.test("dns server: one pod's flood of slow upstream queries does not starve another pod", async () => {
  const f = await setup({ maxInFlight: 4, timeoutMs: 2000 });
  try {
    let firstSlowAnswer = Infinity;
    const flood = Array.from(
      { length: 20 },
      (_, i) =>
        query(f.pod, "slow.example.org", { id: i, timeoutMs: 3000 }).then((r) => {
          if (r.rcode === "NOERROR") firstSlowAnswer = Math.min(firstSlowAnswer, performance.now());
          return r;
        }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const mine = await query(f.pod2, "example.org");
    const mineAt = performance.now();
    assert.deepEqual(mine.answers?.map((a) => a.data), ["93.184.0.1"]);
    const results = await Promise.all(flood);
    const ok = results.filter((r) => r.rcode === "NOERROR").length;
    assert.equal(ok, 4, "the flooding pod got its in-flight bound");
    assert.equal(results.filter((r) => r.rcode === "SERVFAIL").length, 16);
    assert.equal(f.dns.rejections.count("upstream_busy"), 16);
    assert.ok(
      mineAt < firstSlowAnswer,
      "the other pod was answered while the flood's lookups were still upstream",
    );
  } finally {
    await f.close();
  }
});

Deno.test("dns server: ztunnel's metrics and labels", async () => {
  const f = await setup();
  try {
    await query(f.pod, "httpbin");
    await query(f.pod, "example.org", { transport: "tcp" });
    await query(f.pod, "nope.example.org", { type: "AAAA" });
    const text = f.registry.encode();
    const l = (t: string, p: string) =>
      `{request_query_type="${t}",request_protocol="${p}",source_canonical_service="sleep",source_canonical_revision="v1"}`;
    assert.ok(text.includes(`istio_dns_requests_total${l("a", "udp")} 1\n`), text);
    assert.ok(text.includes(`istio_dns_requests_total${l("a", "tcp")} 1\n`));
    assert.ok(text.includes(`istio_dns_upstream_requests_total${l("a", "tcp")} 1\n`));
    assert.ok(
      !text.includes(`istio_dns_upstream_requests_total${l("a", "udp")}`),
      "local answers are not upstream requests",
    );
    assert.ok(
      text.includes(`istio_dns_upstream_failures_total${l("aaaa", "udp")} 1\n`),
      "NXDOMAIN counts as a failure",
    );
    assert.ok(text.includes(`istio_dns_upstream_request_duration_seconds_count${l("a", "tcp")} 1\n`));
    assert.match(text, /istio_dns_upstream_request_duration_seconds_bucket\{[^}]*le="5.0"\} 1\n/);
  } finally {
    await f.close();
  }
});
