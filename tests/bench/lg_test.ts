/** The C load generator: every mode against its own sink, directly and through a tiny SOCKS5 proxy. */
import assert from "node:assert/strict";
import { buildLg } from "../../bench/build_lg.ts";
import { IdleConns, type Route, runLg, startSink } from "../../bench/lg_client.ts";

/** A minimal no-auth SOCKS5 CONNECT proxy (IPv4 only), enough to exercise lg's --socks5. */
function socks5Proxy(): { addr: string; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const readN = async (c: Deno.Conn, n: number) => {
    const buf = new Uint8Array(n);
    for (let got = 0; got < n;) {
      const r = await c.read(buf.subarray(got));
      if (r === null) throw new Error("eof");
      got += r;
    }
    return buf;
  };
  (async () => {
    for await (const c of listener) {
      conns.add(c);
      (async () => {
        try {
          await readN(c, 3);
          await c.write(new Uint8Array([5, 0]));
          const req = await readN(c, 10);
          const host = [...req.subarray(4, 8)].join(".");
          const up = await Deno.connect({ hostname: host, port: (req[8] << 8) | req[9] });
          conns.add(up);
          await c.write(new Uint8Array([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          await Promise.allSettled([c.readable.pipeTo(up.writable), up.readable.pipeTo(c.writable)]);
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return {
    addr: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

Deno.test({
  name: "lg: sink, tput, pingpong, connrate, latency and idle, direct and through SOCKS5",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lg = await buildLg();
    const sink = await startSink(lg, "127.0.0.1:0");
    const proxy = socks5Proxy();
    try {
      assert.match(sink.addr, /^127\.0\.0\.1:\d+$/);
      for (const route of [{ target: sink.addr }, { target: sink.addr, socks5: proxy.addr }] as Route[]) {
        const t = await runLg(lg, "tput", route, ["--conns", "2", "--bytes", "40M"], 30000);
        assert.equal(t.complete, true, JSON.stringify(t));
        assert.equal(t.confirmed, 40 * 1024 * 1024);
        assert.ok(t.mbps > 0);
        const p = await runLg(lg, "pingpong", route, ["--seconds", "0.2", "--warmup", "0"], 10000);
        assert.ok(p.round_trips > 10, JSON.stringify(p));
        const c = await runLg(lg, "connrate", route, ["--conns", "2", "--seconds", "0.3"], 10000);
        assert.ok(c.connections > 5 && c.errors === 0, JSON.stringify(c));
        assert.ok(c.p99_us >= c.p50_us);
        const l = await runLg(lg, "latency", route, [
          "--conns",
          "4",
          "--rate",
          "200",
          "--seconds",
          "0.5",
          "--warmup",
          "0.1",
        ], 10000);
        assert.ok(l.requests >= 90 && l.requests <= 110, JSON.stringify(l)); // 200/s for 0.5 s
        assert.ok(l.p99_us >= l.p50_us && l.p50_us > 0);
        const idle = await IdleConns.open(lg, route, 20, 10000);
        try {
          assert.equal(idle.opened, 20);
          assert.equal(await idle.check(), 20);
        } finally {
          await idle.close();
        }
      }
      await assert.rejects(
        runLg(lg, "pingpong", { target: "127.0.0.1:1" }, ["--seconds", "0.1"], 10000),
        /connect: Connection refused/,
      );
    } finally {
      proxy.close();
      await sink.proc.stop();
    }
  },
});
