/**
 * The DNS proxy of a real zt node (loopback mode: each local pod's DNS server on <podIP>:15053), asked by
 * real clients — dig (Debian's dnsutils) and Node's dns.Resolver (c-ares) — with a small upstream DNS
 * server of the test's own: mesh names, short names from another namespace, a headless service, a name
 * forwarded upstream, bad packets next to good queries, the metrics, the access log, `zt dns lookup`,
 * the upstream going down, and ISTIO_META_DNS_CAPTURE=false.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { type NodeProcess, runZt, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { DnsUpstream } from "../fakes/dns_upstream.ts";
import { readAnswer, udpExchange } from "../fakes/dns_client.ts";
import { startEchoServer } from "../fakes/echo_server.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";

const NODE = { name: "node-a", ip: "127.53.20.1" };
const NODE_OFF = { name: "node-b", ip: "127.53.30.1" };
const SLEEP = "127.53.21.1";
const CLIENT = "127.53.21.2";
const SLEEP_B = "127.53.31.1";
const UPSTREAM = "127.53.29.1";
const VIP = "10.96.53.1";
/** A server outside the mesh that only the upstream resolver knows by name. */
const ECHO = "127.53.29.2";

async function has(cmd: string): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args: ["-v"], stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}
const DIG = await has("dig");
const NODEJS = await has("node");

function mesh(nodeA: string, nodeB: string) {
  const wl = (name: string, ns: string, ip: string, node: string, extra: Record<string, unknown> = {}) => ({
    uid: `Kubernetes//Pod/${ns}/${name}`,
    name,
    namespace: ns,
    serviceAccount: name,
    workloadIps: [ip],
    protocol: "HBONE",
    node,
    canonicalName: name,
    canonicalRevision: "v1",
    ...extra,
  });
  return {
    workloads: [
      wl("sleep", "ambient-demo", SLEEP, nodeA),
      wl("client", "other", CLIENT, nodeA),
      wl("sleep", "ambient-demo-b", SLEEP_B, nodeB),
      wl("db-0", "ambient-demo", "10.244.53.1", "elsewhere", {
        protocol: "TCP",
        services: { "ambient-demo/db.ambient-demo.svc.cluster.local": { 5432: 5432 } },
      }),
      wl("db-1", "ambient-demo", "10.244.53.2", "elsewhere", {
        protocol: "TCP",
        services: { "ambient-demo/db.ambient-demo.svc.cluster.local": { 5432: 5432 } },
      }),
    ],
    services: [
      {
        name: "httpbin",
        namespace: "ambient-demo",
        hostname: "httpbin.ambient-demo.svc.cluster.local",
        vips: [`/${VIP}`],
        ports: { 8000: 80 },
      },
      {
        name: "db",
        namespace: "ambient-demo",
        hostname: "db.ambient-demo.svc.cluster.local",
        vips: [],
        ports: { 5432: 5432 },
      },
      {
        name: "api",
        namespace: "ambient-demo",
        hostname: "api.example.com",
        vips: ["/240.240.0.1"],
        ports: { 443: 443 },
      },
    ],
  };
}

async function dig(server: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: [`@${server}`, "-p", "15053", "+time=2", "+tries=1", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

async function nodeResolve4(server: string, name: string): Promise<{ addresses?: string[]; error?: string }> {
  const script = `const { Resolver } = require("node:dns").promises;
const r = new Resolver({ timeout: 2000, tries: 1 });
r.setServers([process.argv[1]]);
r.resolve4(process.argv[2]).then((a) => console.log(JSON.stringify({ addresses: a })), (e) => console.log(JSON.stringify({ error: e.code })));`;
  const out = await new Deno.Command("node", {
    args: ["-e", script, `${server}:15053`, name],
    stdout: "piped",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const status = (out: string) => /status: (\w+)/.exec(out)?.[1];
const flags = (out: string) => /flags: ([a-z ]+);/.exec(out)?.[1].trim().split(" ") ?? [];

Deno.test({
  name: "dns: a zt node answers its pods' DNS on 15053 (dig, Node's resolver), forwards the rest upstream",
  ignore: !DIG,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "zt-dns-" });
    const upstream = await DnsUpstream.start(UPSTREAM, {
      "example.org": { A: ["93.184.53.1"] },
      "www.example.org": { CNAME: "example.org" },
      "echo.example.org": { A: [ECHO] },
    });
    const echo = startEchoServer(ECHO, 0);
    let node: NodeProcess | undefined;
    try {
      const { caDir, configPath } = await writeMeshFiles(dir, mesh(NODE.name, NODE_OFF.name));
      node = await startNode({
        ...NODE,
        caDir,
        configPath,
        env: {
          ZT_DNS_UPSTREAMS: `${UPSTREAM}:${upstream.port}`,
          ZT_DNS_UPSTREAM_TIMEOUT: "300ms",
          RUST_LOG: "info,dns=debug",
        },
      });
      const n = node;

      await t.step("dig: a mesh FQDN is answered by zt (aa), with the service VIP and TTL 30", async () => {
        const out = await dig(SLEEP, "httpbin.ambient-demo.svc.cluster.local");
        assert.equal(status(out), "NOERROR", out);
        assert.deepEqual(flags(out).sort(), ["aa", "qr", "ra", "rd"], out);
        assert.match(
          out,
          new RegExp(
            `httpbin\\.ambient-demo\\.svc\\.cluster\\.local\\.\\s+30\\s+IN\\s+A\\s+${
              VIP.replaceAll(".", "\\.")
            }`,
          ),
        );
        assert.equal((await dig(SLEEP, "+tcp", "+short", "httpbin")).trim(), VIP, "short name, over TCP");
        assert.equal(
          (await dig(SLEEP, "+short", "api.example.com")).trim(),
          "240.240.0.1",
          "a ServiceEntry host",
        );
      });

      await t.step("short names are relative to the asking pod's namespace", async () => {
        assert.equal((await dig(CLIENT, "+short", "httpbin.ambient-demo")).trim(), VIP);
        const out = await dig(CLIENT, "httpbin");
        assert.equal(
          status(out),
          "NXDOMAIN",
          "`httpbin` from namespace other is not ambient-demo's: forwarded",
        );
        assert.ok(!flags(out).includes("aa"));
      });

      await t.step("a headless service answers its endpoints' IPs", async () => {
        const ips = (await dig(SLEEP, "+short", "db.ambient-demo.svc.cluster.local")).trim().split("\n")
          .sort();
        assert.deepEqual(ips, ["10.244.53.1", "10.244.53.2"]);
      });

      await t.step("a search-suffixed name gets a CNAME to the name it stands for", async () => {
        const out = await dig(
          SLEEP,
          "+noall",
          "+answer",
          "httpbin.ambient-demo.ambient-demo.svc.cluster.local",
        );
        assert.match(out, /CNAME\s+httpbin\.ambient-demo\.\n/);
        assert.match(
          out,
          new RegExp(`httpbin\\.ambient-demo\\.\\s+30\\s+IN\\s+A\\s+${VIP.replaceAll(".", "\\.")}`),
        );
      });

      await t.step("a name outside the mesh is re-resolved upstream (not authoritative)", async () => {
        const out = await dig(SLEEP, "www.example.org");
        assert.equal(status(out), "NOERROR", out);
        assert.ok(!flags(out).includes("aa") && flags(out).includes("ra"), out);
        assert.match(out, /www\.example\.org\.\s+300\s+IN\s+CNAME\s+example\.org\./);
        assert.match(out, /example\.org\.\s+300\s+IN\s+A\s+93\.184\.53\.1/);
        assert.ok(upstream.queries.some((q) => q.name === "www.example.org"));
        assert.equal(status(await dig(SLEEP, "missing.example.org")), "NXDOMAIN");
      });

      await t.step("SOCKS5 resolves a domain target through the same resolver as the pod's DNS", async () => {
        const before = upstream.queries.length;
        const { reply, conn } = await socks5Connect(
          { ip: SLEEP, port: 15080 },
          "echo.example.org",
          echo.port,
        );
        assert.equal(reply, 0);
        const back = await roundTrip(conn, new TextEncoder().encode("via the upstream's answer"));
        assert.equal(new TextDecoder().decode(back), "via the upstream's answer");
        assert.ok(upstream.queries.slice(before).some((q) => q.name === "echo.example.org"));
        const dns = await dig(SLEEP, "echo.example.org");
        assert.match(
          dns,
          new RegExp(`echo\\.example\\.org\\.\\s+\\d+\\s+IN\\s+A\\s+${ECHO.replaceAll(".", "\\.")}`),
        );
      });

      await t.step({
        name: "Node's dns.Resolver (c-ares) gets the same answers",
        ignore: !NODEJS,
        fn: async () => {
          assert.deepEqual(await nodeResolve4(SLEEP, "httpbin.ambient-demo.svc.cluster.local"), {
            addresses: [VIP],
          });
          assert.deepEqual(await nodeResolve4(SLEEP, "example.org"), { addresses: ["93.184.53.1"] });
          assert.deepEqual(await nodeResolve4(SLEEP, "missing.example.org"), { error: "ENOTFOUND" });
        },
      });

      await t.step("bad packets next to good queries: FORMERR or dropped, and the node goes on", async () => {
        const junk = new Uint8Array([0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 0x61]);
        const s = dgram.createSocket("udp4");
        await Promise.all(
          Array.from(
            { length: 50 },
            (_, i) => new Promise((r) => s.send(new Uint8Array([i]), 15053, SLEEP, r)),
          ),
        );
        s.close();
        const fe = await udpExchange({ ip: SLEEP, port: 15053 }, junk);
        assert.deepEqual(fe && [readAnswer(fe).id, readAnswer(fe).rcode], [0xbeef, "FORMERR"]);
        assert.equal((await dig(SLEEP, "+short", "httpbin")).trim(), VIP);
        const metrics = await (await fetch(`http://${NODE.ip}:15020/metrics`)).text();
        assert.match(metrics, /zt_dns_rejected_requests_total\{reason="short"\} 50/);
        assert.match(metrics, /zt_dns_rejected_requests_total\{reason="malformed"\} 1/);
      });

      await t.step("ztunnel's DNS metrics", async () => {
        const m = await (await fetch(`http://${NODE.ip}:15020/metrics`)).text();
        const sleepA =
          `request_query_type="a",request_protocol="udp",source_canonical_service="sleep",source_canonical_revision="v1"`;
        assert.match(m, new RegExp(`istio_dns_requests_total\\{${sleepA}\\} \\d+`));
        assert.match(m, new RegExp(`istio_dns_upstream_requests_total\\{${sleepA}\\} \\d+`));
        assert.match(m, new RegExp(`istio_dns_upstream_failures_total\\{${sleepA}\\} \\d+`));
        assert.match(
          m,
          new RegExp(`istio_dns_upstream_request_duration_seconds_bucket\\{${sleepA},le="0.0005"\\} \\d+`),
        );
        assert.match(m, /# TYPE istio_dns_upstream_request_duration_seconds histogram/);
      });

      await t.step("the access log names the pod, the query, the answer's source and the time", async () => {
        const rec = await n.waitForLog((l) =>
          l.scope === "dns" && l.message === "dns request" &&
          l.domain === "httpbin.ambient-demo.svc.cluster.local."
        );
        assert.equal(rec["src.workload"], "sleep");
        assert.equal(rec["src.namespace"], "ambient-demo");
        assert.equal(rec.query, "A");
        assert.equal(rec.result, "success");
        assert.equal(rec.source, "local");
        assert.equal(rec.endpoints, 1);
        assert.match(String(rec.duration), /^\d+ms$/);
        const fwd = await n.waitForLog((l) => l.scope === "dns" && l.domain === "www.example.org.");
        assert.deepEqual([fwd.result, fwd.source], ["forwarded", "upstream"]);
      });

      await t.step("zt dns lookup shows what a pod's DNS answers", async () => {
        const admin = `${NODE.ip}:15000`;
        const local = await runZt([
          "dns",
          "lookup",
          "httpbin",
          "--pod",
          "ambient-demo/sleep",
          "--admin",
          admin,
        ]);
        assert.equal(local.code, 0, local.stderr);
        assert.match(local.stdout, /answered by zt \(authoritative\), NOERROR, success/);
        assert.match(
          local.stdout,
          new RegExp(`httpbin\\.\\s+30\\s+IN\\s+A\\s+${VIP.replaceAll(".", "\\.")}`),
        );
        const other = await runZt([
          "dns",
          "lookup",
          "httpbin",
          "--pod",
          "other/client",
          "--admin",
          admin,
          "-o",
          "json",
        ]);
        const v = JSON.parse(other.stdout);
        assert.deepEqual([v.source, v.rcode], ["upstream", "NXDOMAIN"]);
        const fwd = await runZt([
          "dns",
          "lookup",
          "example.org",
          "--pod",
          "ambient-demo/sleep",
          "--admin",
          admin,
        ]);
        assert.match(fwd.stdout, /forwarded to 127\.53\.29\.1:\d+ \(udp\), NOERROR/);
        assert.match(fwd.stdout, /93\.184\.53\.1/);
        const none = await runZt([
          "dns",
          "lookup",
          "httpbin",
          "--pod",
          "ambient-demo/nobody",
          "--admin",
          admin,
        ]);
        assert.equal(none.code, 1);
        assert.match(none.stderr, /no DNS proxy for pod ambient-demo\/nobody/);
      });

      await t.step("upstream down: forwarded names get SERVFAIL, mesh names still answer", async () => {
        await upstream.close();
        const out = await dig(SLEEP, "example.org");
        assert.equal(status(out), "SERVFAIL", out);
        assert.equal((await dig(SLEEP, "+short", "httpbin")).trim(), VIP);
      });
    } finally {
      const code = node ? await node.stop() : 0;
      await upstream.close().catch(() => {});
      await echo.close();
      await Deno.remove(dir, { recursive: true });
      assert.equal(code, 0);
    }
  },
});

Deno.test({
  name: "dns: ISTIO_META_DNS_CAPTURE=false turns the DNS proxy off",
  ignore: !DIG,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "zt-dns-off-" });
    let node: NodeProcess | undefined;
    try {
      const { caDir, configPath } = await writeMeshFiles(dir, mesh(NODE.name, NODE_OFF.name));
      node = await startNode({ ...NODE_OFF, caDir, configPath, env: { ISTIO_META_DNS_CAPTURE: "false" } });
      const out = await dig(SLEEP_B, "+time=1", "httpbin.ambient-demo.svc.cluster.local");
      assert.match(out, /timed out|no servers could be reached|connection refused/i, out);
      const m = await (await fetch(`http://${NODE_OFF.ip}:15020/metrics`)).text();
      assert.ok(!m.includes("istio_dns_requests"), "no DNS metrics when the proxy is off");
      const r = await fetch(`http://${NODE_OFF.ip}:15000/dns_lookup?pod=ambient-demo-b/sleep&name=httpbin`);
      assert.equal(r.status, 503);
      await r.body?.cancel();
    } finally {
      assert.equal(node ? await node.stop() : 0, 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
