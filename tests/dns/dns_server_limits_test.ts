/**
 * A DnsServer's own limits: a pod whose workload is not known yet (wait, then SERVFAIL — or the answer
 * once it arrives), TCP connections bounded and closed when idle, binding failures, and the shared
 * resolver giving SOCKS5 the same answer as DNS.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { DnsMetrics } from "../../lib/dns/dns_metrics.ts";
import { DnsRejections } from "../../lib/dns/dns_rejections.ts";
import { DnsServer } from "../../lib/dns/dns_server.ts";
import { Forwarder } from "../../lib/dns/forwarder.ts";
import { NameResolver } from "../../lib/dns/name_resolver.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { Registry } from "../../lib/metrics/registry.ts";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import type { Workload } from "../../lib/state/types.ts";
import { netKit } from "../net/net_fixture.ts";
import { query } from "../fakes/dns_client.ts";
import { DnsUpstream } from "../fakes/dns_upstream.ts";
import { service, workload } from "../state/fixtures.ts";

const IP = "127.53.1.1";
const pod = workload({ name: "sleep", namespace: "ambient-demo", workloadIps: [IP] });

function server(opts: { workload: () => Workload | undefined; tcpTimeoutMs?: number; maxTcp?: number }) {
  const kit = netKit();
  const state = new ProxyState();
  state.upsertService(service({ name: "httpbin", namespace: "ambient-demo", vips: ["/10.96.0.20"] }));
  const registry = new Registry();
  const rejections = new DnsRejections(registry, silentLogger());
  const fwd = new Forwarder({ sockets: kit.factory(), upstreams: [] });
  const resolver = new NameResolver({
    state,
    clusterDomain: "cluster.local",
    ipv6Enabled: true,
    forwarderFor: () => fwd,
  });
  const s = new DnsServer({
    sockets: kit.factory(),
    addresses: [{ ip: IP, port: 0 }],
    resolver,
    clientWorkload: opts.workload,
    metrics: new DnsMetrics(registry),
    rejections,
    log: silentLogger(),
    workloadWaitMs: 300,
    tcpTimeoutMs: opts.tcpTimeoutMs,
    maxTcpConnections: opts.maxTcp,
  });
  s.start();
  return {
    s,
    addr: s.bound[0],
    registry,
    rejections,
    close: () => {
      s.close();
      kit.close();
    },
  };
}

Deno.test("dns server: an unknown pod workload waits, then SERVFAIL counted with source unknown", async () => {
  const x = server({ workload: () => undefined });
  try {
    const t0 = performance.now();
    const r = await query(x.addr, "httpbin");
    assert.equal(r.rcode, "SERVFAIL");
    assert.ok(performance.now() - t0 >= 250, "it waited for the workload");
    assert.match(
      x.registry.encode(),
      /istio_dns_requests_total\{request_query_type="a",request_protocol="udp",source_canonical_service="unknown",source_canonical_revision="unknown"\} 1/,
    );
  } finally {
    x.close();
  }
});

Deno.test("dns server: a workload that arrives during the wait gets its answer", async () => {
  let w: Workload | undefined;
  const x = server({ workload: () => w });
  try {
    setTimeout(() => (w = pod), 100);
    const r = await query(x.addr, "httpbin");
    assert.deepEqual(r.answers?.map((a) => a.data), ["10.96.0.20"]);
  } finally {
    x.close();
  }
});

function connect(addr: { ip: string; port: number }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(addr.port, addr.ip, () => resolve(c));
    c.on("error", reject);
  });
}

const closed = (c: net.Socket) => new Promise<void>((r) => (c.destroyed ? r() : c.on("close", () => r())));

Deno.test("dns server: TCP connections are bounded per pod and closed after the request timeout", async () => {
  const x = server({ workload: () => pod, tcpTimeoutMs: 300, maxTcp: 2 });
  try {
    const a = await connect(x.addr);
    const b = await connect(x.addr);
    a.on("error", () => {});
    b.on("error", () => {});
    await new Promise((r) => setTimeout(r, 50));
    const c = await connect(x.addr);
    c.on("error", () => {});
    await closed(c);
    assert.equal(x.rejections.count("tcp_connections"), 1);
    a.write(new Uint8Array([0, 40, 1])); // a request that never completes
    const t0 = performance.now();
    await Promise.all([closed(a), closed(b)]);
    assert.ok(performance.now() - t0 >= 200, "idle connections stay until the timeout");
    assert.equal(x.rejections.count("tcp_timeout"), 2);
    assert.equal(x.s.tcpConnections, 0);
    const r = await query(x.addr, "httpbin", { transport: "tcp" });
    assert.equal(r.answers?.[0].data, "10.96.0.20", "room again once they are gone");
  } finally {
    x.close();
  }
});

Deno.test("dns server: a taken address fails start() (so the pod does not start)", () => {
  const x = server({ workload: () => pod });
  const kit = netKit();
  try {
    const again = new DnsServer({
      sockets: kit.factory(),
      addresses: [x.addr],
      resolver: undefined as never,
      clientWorkload: () => pod,
      metrics: new DnsMetrics(new Registry()),
      rejections: new DnsRejections(new Registry(), silentLogger()),
      log: silentLogger(),
    });
    assert.throws(() => again.start(), /Address already in use \(os error 98\)/);
  } finally {
    kit.close();
    x.close();
  }
});

Deno.test("name resolver: SOCKS5 and DNS share answers — mesh names locally, others upstream", async () => {
  const kit = netKit();
  const up = await DnsUpstream.start("127.53.9.2", {
    "example.org": { A: ["93.184.0.1"] },
    "v6.example.org": { AAAA: ["2001:db8::9"] },
  });
  try {
    const state = new ProxyState();
    state.upsertService(service({ name: "httpbin", namespace: "ambient-demo", vips: ["/10.96.0.20"] }));
    const fwd = new Forwarder({
      sockets: kit.factory(),
      upstreams: [up.address],
      timeoutMs: 500,
      attempts: 1,
    });
    const r = new NameResolver({
      state,
      clusterDomain: "cluster.local",
      ipv6Enabled: true,
      forwarderFor: () => fwd,
    });
    assert.deepEqual(await r.resolve(pod, "httpbin"), ["10.96.0.20"]);
    assert.deepEqual(await r.resolve(pod, "httpbin.ambient-demo.svc.cluster.local."), ["10.96.0.20"]);
    assert.deepEqual(await r.resolve(pod, "example.org"), ["93.184.0.1"]);
    assert.deepEqual(await r.resolve(pod, "v6.example.org"), ["2001:db8::9"]);
    assert.deepEqual(await r.resolve(pod, "nope.example.org"), []);
    const other = workload({ name: "x", namespace: "elsewhere", workloadIps: ["127.53.1.9"] });
    assert.deepEqual(await r.resolve(other, "httpbin.ambient-demo"), ["10.96.0.20"]);
    assert.equal(up.queries.filter((q) => q.name.startsWith("httpbin")).length, 0);
    fwd.close();
  } finally {
    await up.close();
    kit.close();
  }
});
