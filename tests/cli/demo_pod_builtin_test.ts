/**
 * The in-pod demo's built-in client and httpbin replica (lib/cli/demo_pod_builtin.ts,
 * demo_pod_httpbin.ts) on sockets made by zt's socket factory (here in the test's own namespace): the
 * stub resolver follows resolv.conf's search list and ndots as glibc does, against an independent DNS
 * server (dns-packet); GETs reach the replica, which answers /, /ip and /hostname; a request head that
 * never ends or is not HTTP gets a clear refusal and a closed connection, not a hang.
 */
import assert from "node:assert/strict";
import {
  candidateNames,
  getInPod,
  parsePodResolvConf,
  resolveInPod,
} from "../../lib/cli/demo_pod_builtin.ts";
import { PodSockets } from "../../lib/cli/demo_pod_sockets.ts";
import { httpbinAnswer, PodHttpbin } from "../../lib/cli/demo_pod_httpbin.ts";
import { podResolvConf } from "../../lib/cli/demo_inpod_plan.ts";
import { DnsUpstream } from "../fakes/dns_upstream.ts";

const HERE = "/proc/thread-self/ns/net";
const DNS_IP = "127.66.0.53";
const HTTPBIN_IP = "127.66.0.12";

Deno.test("resolv.conf as a pod's libc reads it: nameservers, search list, ndots", () => {
  const r = parsePodResolvConf(podResolvConf("ambient-demo"));
  assert.deepEqual(r, {
    nameservers: ["10.96.0.10"],
    search: ["ambient-demo.svc.cluster.local", "svc.cluster.local", "cluster.local"],
    ndots: 5,
  });
  assert.deepEqual(parsePodResolvConf("# nothing\nnameserver not-an-ip\n"), {
    nameservers: [],
    search: [],
    ndots: 1,
  });
  assert.deepEqual(candidateNames("httpbin", r), [
    "httpbin.ambient-demo.svc.cluster.local",
    "httpbin.svc.cluster.local",
    "httpbin.cluster.local",
    "httpbin",
  ]);
  assert.deepEqual(candidateNames("a.b.c.d.e.f", r)[0], "a.b.c.d.e.f"); // ndots reached: as is first
  assert.deepEqual(candidateNames("httpbin.", r), ["httpbin"]); // absolute: no search
});

Deno.test({
  name: "built-in client: resolves through the search list, GETs the replica, which names itself",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dns = await DnsUpstream.start(DNS_IP, {
      "httpbin.ambient-demo.svc.cluster.local": { A: [HTTPBIN_IP] },
      "web.example.com": { A: ["127.66.0.80"] },
    });
    const sockets = PodSockets.open();
    const httpbin = new PodHttpbin("httpbin-7", sockets.factory(HERE), 8080, HTTPBIN_IP);
    try {
      const factory = sockets.factory(HERE);
      const r = {
        ...parsePodResolvConf(podResolvConf("ambient-demo").replace("10.96.0.10", DNS_IP)),
        port: dns.port,
      };
      const got = await resolveInPod(factory, r, "httpbin");
      assert.deepEqual(got, { name: "httpbin.ambient-demo.svc.cluster.local", addresses: [HTTPBIN_IP] });
      assert.deepEqual(dns.queries.map((q) => [q.name, q.type]), [[
        "httpbin.ambient-demo.svc.cluster.local",
        "A",
      ]]);
      // Below ndots, a name outside the cluster is tried with every search suffix first.
      const web = await resolveInPod(factory, r, "web.example.com");
      assert.deepEqual(web.addresses, ["127.66.0.80"]);
      assert.deepEqual(dns.queries.slice(1).map((q) => q.name), [
        "web.example.com.ambient-demo.svc.cluster.local",
        "web.example.com.svc.cluster.local",
        "web.example.com.cluster.local",
        "web.example.com",
      ]);
      const none = await resolveInPod(factory, r, "nothing");
      assert.deepEqual(none.addresses, []);
      assert.match(none.error!, /could not resolve nothing \(nothing: NXDOMAIN\)/);

      const rootUrl = `http://${HTTPBIN_IP}:8080/`;
      const page = await getInPod(factory, r, rootUrl);
      assert.deepEqual(page, { ok: true, status: 200, body: "<title>httpbin.org</title>\n" });
      const host = await getInPod(factory, r, `${rootUrl}hostname`);
      assert.equal(host.body, `{"hostname": "httpbin-7"}\n`);
      const ip = await getInPod(factory, r, `${rootUrl}ip`);
      assert.match(ip.body, /^\{"origin": "127\.\d+\.\d+\.\d+"\}\n$/);
      const missing = await getInPod(factory, r, `${rootUrl}nope`);
      assert.equal(missing.status, 404);
      const byName = await getInPod(factory, r, "http://httpbin:8080/hostname");
      assert.equal(byName.body, `{"hostname": "httpbin-7"}\n`);
      const refused = await getInPod(factory, r, `http://${HTTPBIN_IP}:8099/`);
      assert.equal(refused.ok, false);
      assert.match(refused.error!, /refused/i);
    } finally {
      httpbin.close();
      sockets.close();
      await dns.close();
    }
  },
});

async function raw(request: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: HTTPBIN_IP, port: 8081 });
  try {
    await conn.write(request).catch(() => {});
    let text = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "httpbin replica: a head that never ends → 431, not HTTP → 400; the connection is closed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const sockets = PodSockets.open();
    const httpbin = new PodHttpbin("httpbin-7", sockets.factory(HERE), 8081, HTTPBIN_IP);
    try {
      const huge = new TextEncoder().encode(`GET / HTTP/1.1\r\nX-Pad: ${"a".repeat(20_000)}`);
      assert.match(await raw(huge), /^HTTP\/1\.1 431 [^\r]*\r\n[\s\S]*x-served-by: httpbin-7/);
      assert.match(await raw(new TextEncoder().encode("BREW /pot HTCPCP/1.0\r\n\r\n")), /^HTTP\/1\.1 400 /);
      // Still serving.
      assert.match(
        await raw(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
        /^HTTP\/1\.1 200 /,
      );
    } finally {
      httpbin.close();
      sockets.close();
    }
  },
});

Deno.test("httpbin answers: /, /ip with the client's address, /hostname, 404 otherwise", () => {
  assert.equal(httpbinAnswer("h", "/", "10.0.0.1").body, "<title>httpbin.org</title>\n");
  assert.equal(httpbinAnswer("h", "/ip?x=1", "10.0.0.1").body, `{"origin": "10.0.0.1"}\n`);
  assert.equal(httpbinAnswer("h", "/hostname", "10.0.0.1").body, `{"hostname": "h"}\n`);
  assert.equal(httpbinAnswer("h", "/status/418", "10.0.0.1").status, 404);
});
