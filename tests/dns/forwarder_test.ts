/** The upstream forwarder: server order, what moves on to the next server, resolv.conf, TCP framing. */
import assert from "node:assert/strict";
import { Forwarder, isUpstreamSuccess } from "../../lib/dns/forwarder.ts";
import { parseResolvConf } from "../../lib/dns/resolv_conf.ts";
import { frameTcpMessage, TcpFramer } from "../../lib/dns/tcp_framing.ts";
import { RType } from "../../lib/dns/dns_types.ts";
import { netKit } from "../net/net_fixture.ts";
import { DnsUpstream } from "../fakes/dns_upstream.ts";

Deno.test("forwarder: SERVFAIL and silence move on to the next server; NXDOMAIN is final", async () => {
  const kit = netKit();
  const first = await DnsUpstream.start("127.53.9.3", {
    "a.test": { servfail: true },
    "b.test": { silent: true },
  });
  const second = await DnsUpstream.start("127.53.9.4", {
    "a.test": { A: ["10.0.0.1"] },
    "b.test": { A: ["10.0.0.2"] },
    "c.test": { A: ["10.0.0.3"] },
  });
  try {
    const f = new Forwarder({
      sockets: kit.factory(),
      upstreams: [first.address, second.address],
      timeoutMs: 200,
      attempts: 1,
    });
    const q = (name: string) => f.lookup({ name, type: RType.A, class: 1 });
    const a = await q("a.test");
    assert.ok(a.kind === "answer" && a.rcode === 0 && a.server === "127.53.9.4:" + second.port);
    const b = await q("b.test");
    assert.ok(b.kind === "answer" && b.answers.length === 1);
    const c = await q("c.test");
    assert.ok(c.kind === "answer" && c.rcode === 3, "the first server's NXDOMAIN is the answer");
    assert.equal(isUpstreamSuccess(c), false);
    assert.equal(second.queries.filter((x) => x.name === "c.test").length, 0);
    const none = new Forwarder({ sockets: kit.factory(), upstreams: [] });
    assert.equal((await none.lookup({ name: "x", type: 1, class: 1 })).kind, "failed");
    f.close();
  } finally {
    await first.close();
    await second.close();
    kit.close();
  }
});

Deno.test("forwarder: a UDP socket carries a few lookups at once, then a fresh one (new source port)", async () => {
  const kit = netKit();
  const up = await DnsUpstream.start("127.53.9.5", { "a.test": { A: ["10.0.0.1"], delayMs: 30 } });
  try {
    const f = new Forwarder({
      sockets: kit.factory(),
      upstreams: [up.address],
      timeoutMs: 1000,
      udpSocketUses: 4,
    });
    const rs = await Promise.all(
      Array.from({ length: 12 }, () => f.lookup({ name: "a.test", type: RType.A, class: 1 })),
    );
    assert.ok(
      rs.every((r) => r.kind === "answer" && r.answers.length === 1),
      "every concurrent lookup got its own answer",
    );
    const ports = new Set(up.queries.map((q) => q.port));
    assert.equal(ports.size, 3, "12 lookups, 4 per socket");
    for (const port of ports) {
      const ids = up.queries.filter((q) => q.port === port).map((q) => q.id);
      assert.equal(new Set(ids).size, ids.length, "lookups sharing a socket have distinct random ids");
    }
    f.close();
  } finally {
    await up.close();
    kit.close();
  }
});

Deno.test("resolv.conf: nameservers on port 53, timeout and attempts options, comments ignored", () => {
  const c = parseResolvConf(`# generated
search ns.svc.cluster.local svc.cluster.local
nameserver 10.96.0.10
nameserver fe80::1%eth0 ; link-local
nameserver not-an-ip
options ndots:5 timeout:2 attempts:3
`);
  assert.deepEqual(c.nameservers, [{ ip: "10.96.0.10", port: 53 }, { ip: "fe80::1", port: 53 }]);
  assert.equal(c.timeoutMs, 2000);
  assert.equal(c.attempts, 3);
  assert.deepEqual(parseResolvConf(""), { nameservers: [], timeoutMs: undefined, attempts: undefined });
});

Deno.test("tcp framing: messages split and joined across reads, at most one partial message held", () => {
  const f = new TcpFramer();
  const a = frameTcpMessage(new Uint8Array([1, 2, 3]));
  const b = frameTcpMessage(new Uint8Array(300).fill(7));
  const all = new Uint8Array([...a, ...b]);
  assert.deepEqual(f.push(all.subarray(0, 1)), []);
  assert.deepEqual(f.push(all.subarray(1, 10)), [new Uint8Array([1, 2, 3])]);
  assert.equal(f.pending, 5);
  const out = f.push(all.subarray(10));
  assert.equal(out.length, 1);
  assert.equal(out[0].length, 300);
  assert.equal(f.pending, 0);
});
