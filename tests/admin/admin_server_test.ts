import assert from "node:assert/strict";
import { type AdminDeps, type ConnectionView, serveAdmin } from "../../lib/admin/admin_server.ts";
import { buildConfigDump } from "../../lib/admin/config_dump.ts";
import { formatLogFilter, LogSink, parseLogFilter } from "../../lib/log/logger.ts";
import { sampleSource, sampleState } from "./sample_mesh.ts";

interface Harness {
  base: string;
  sink: LogSink;
  shutdowns: number;
  shutdownCalled: Promise<void>;
  close(): Promise<void>;
}

const CONN: ConnectionView = {
  id: "c1",
  direction: "inbound",
  src: "10.244.2.58:41000",
  dst: "10.240.1.5:8080",
  srcIdentity: "spiffe://cluster.local/ns/ambient-demo/sa/<script>alert(1)</script>",
  dstIdentity: "spiffe://cluster.local/ns/ambient-demo/sa/httpbin",
  bytesSent: 2048,
  bytesRecv: 17,
  startedAt: 1_000_000,
};

function start(overrides: Partial<AdminDeps> = {}): Harness {
  const sink = new LogSink(parseLogFilter("info,xds=debug"), "plain", () => {});
  let resolveShutdown!: () => void;
  const h = {
    sink,
    shutdowns: 0,
    shutdownCalled: new Promise<void>((r) => (resolveShutdown = r)),
  } as Harness;
  const deps: AdminDeps = {
    configDump: () => buildConfigDump(sampleSource(sampleState())),
    logSink: sink,
    shutdown: () => {
      h.shutdowns++;
      resolveShutdown();
      return Promise.resolve();
    },
    connections: () => [CONN],
    now: () => 1_065_000,
    ...overrides,
  };
  const server = serveAdmin({ hostname: "127.0.0.1", port: 0, deps });
  h.base = `http://127.0.0.1:${server.addr.port}`;
  h.close = () => server.shutdown();
  return h;
}

async function call(
  h: Harness,
  path: string,
  method = "GET",
): Promise<{ status: number; body: string; res: Response }> {
  const res = await fetch(h.base + path, { method });
  return { status: res.status, body: await res.text(), res };
}

Deno.test("admin: unknown paths are 404, known paths with the wrong method 405", async () => {
  const h = start();
  try {
    assert.equal((await call(h, "/nope")).status, 404);
    assert.equal((await call(h, "/debug/pprof/profile")).status, 404);
    const wrong = await call(h, "/config_dump", "POST");
    assert.equal(wrong.status, 405);
    assert.equal(wrong.res.headers.get("allow"), "GET");
    const getLogging = await call(h, "/logging");
    assert.equal(getLogging.status, 405);
    assert.match(getLogging.body, /^Invalid HTTP method\n/);
    assert.equal((await call(h, "/quitquitquit")).status, 405);
    assert.equal((await call(h, "/", "DELETE")).status, 405);
    assert.equal(h.shutdowns, 0);
  } finally {
    await h.close();
  }
});

Deno.test("admin: /config_dump serves the dump as pretty-printed JSON", async () => {
  const h = start();
  try {
    const { status, body, res } = await call(h, "/config_dump");
    assert.equal(status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const dump = JSON.parse(body);
    assert.deepEqual(dump, JSON.parse(JSON.stringify(buildConfigDump(sampleSource(sampleState())))));
    assert.ok(body.startsWith('{\n  "workloads": [\n'));
  } finally {
    await h.close();
  }
});

Deno.test("admin: a failing config_dump is a 500 with the reason", async () => {
  const h = start({ configDump: () => Promise.reject(new Error("state unavailable")) });
  try {
    const r = await call(h, "/config_dump");
    assert.equal(r.status, 500);
    assert.match(r.body, /state unavailable/);
  } finally {
    await h.close();
  }
});

Deno.test("admin: POST /logging lists, changes, and resets the LogSink filter", async () => {
  const h = start();
  try {
    let r = await call(h, "/logging", "POST");
    assert.equal(r.status, 200);
    assert.equal(r.body, "current log level is info,xds=debug\n");

    r = await call(h, "/logging?level=debug", "POST");
    assert.equal(r.body, "current log level is debug,xds=debug\n");
    assert.equal(h.sink.filter.defaultLevel, "debug");

    r = await call(h, "/logging?level=xds:trace,inbound:warn", "POST");
    assert.equal(r.status, 200);
    assert.equal(formatLogFilter(h.sink.filter), "debug,xds=trace,inbound=warn");
    assert.equal(h.sink.threshold("inbound"), 2);

    r = await call(h, "/logging?level=outbound=error", "POST");
    assert.equal(h.sink.filter.components.get("outbound"), "error");

    r = await call(h, "/logging?level=reset", "POST");
    assert.equal(r.body, "current log level is info,xds=debug\n");
    assert.equal(formatLogFilter(h.sink.filter), "info,xds=debug");

    // `reset` plus a level: the level applies over the startup filter
    await call(h, "/logging?level=warn", "POST");
    r = await call(h, "/logging?reset&level=access:debug", "POST");
    assert.equal(r.body, "current log level is info,xds=debug,access=debug\n");
  } finally {
    await h.close();
  }
});

Deno.test("admin: an invalid level is a 400 with the reason and changes nothing", async () => {
  const h = start();
  try {
    for (const q of ["?level=loud", "?level=xds:verbose", "?level=ztunnel::proxy", "?reset&level=chatty"]) {
      const r = await call(h, "/logging" + q, "POST");
      assert.equal(r.status, 400, q);
      assert.match(r.body, /^Invalid level provided: /);
      assert.match(r.body, /usage: POST \/logging/);
    }
    const r = await call(h, "/logging?level=xds:verbose", "POST");
    assert.match(r.body, /invalid log level "verbose"/);
    assert.equal(formatLogFilter(h.sink.filter), "info,xds=debug");
  } finally {
    await h.close();
  }
});

Deno.test("admin: /logging as istioctl ztunnel-config log calls it", async () => {
  const h = start();
  try {
    // `istioctl ztunnel-config log`: an empty level lists (ztunnel: change_log_level(false, ""))
    let r = await call(h, "/logging?level=", "POST");
    assert.equal(r.status, 200);
    assert.equal(r.body, "current log level is info,xds=debug\n");
    // `--level access:debug,info`
    r = await call(h, "/logging?level=access:debug,info", "POST");
    assert.equal(r.body, "current log level is info,xds=debug,access=debug\n");
    // `--level ztunnel::proxy=debug` (ztunnel's module names)
    r = await call(h, "/logging?level=ztunnel::proxy=debug", "POST");
    assert.equal(r.status, 200);
    assert.equal(h.sink.threshold("inbound"), 4);
    assert.equal(h.sink.threshold("outbound"), 4);
    assert.equal(h.sink.threshold("identity"), 3);
    // `--level warning` becomes `warn`; `-r` sends `level=info&reset`
    r = await call(h, "/logging?level=warn", "POST");
    assert.equal(r.body, "current log level is warn,xds=debug,access=debug,ztunnel::proxy=debug\n");
    r = await call(h, "/logging?level=info&reset", "POST");
    assert.equal(r.body, "current log level is info,xds=debug\n");
  } finally {
    await h.close();
  }
});

Deno.test("admin: /logging follows ztunnel's change_log_level cases", async () => {
  const h = start({ logSink: new LogSink(parseLogFilter("info"), "plain", () => {}) });
  try {
    const cases: Array<[string, number, string]> = [
      ["", 200, "info"],
      ["?reset", 200, "info"],
      ["?reset&level=debug", 200, "debug"],
      ["?reset&level=access=debug,info", 200, "info,access=debug"],
      ["?reset&level=warn", 200, "warn"],
      ["?reset&level=error", 200, "error"],
      ["?reset&level=trace", 200, "trace"],
      ["?reset&level=off", 200, "off"],
      ["?reset&level=info", 200, "info"],
    ];
    for (const [q, status, want] of cases) {
      const r = await call(h, "/logging" + q, "POST");
      assert.equal(r.status, status, q);
      assert.equal(r.body, `current log level is ${want}\n`, q);
    }
    // several `level` parameters: the last (ztunnel collects the query into a map)
    const r = await call(h, "/logging?level=debug&level=error", "POST");
    assert.equal(r.body, "current log level is error\n");
  } finally {
    await h.close();
  }
});

Deno.test("admin: /logging drops targets zt has no counterpart for, says so, and logs it", async () => {
  const lines: string[] = [];
  const h = start({ logSink: new LogSink(parseLogFilter("info"), "json", (l) => lines.push(l)) });
  try {
    const r = await call(h, "/logging?level=hickory_server::server=off,access=debug", "POST");
    assert.equal(r.status, 200);
    const [first, second] = r.body.split("\n");
    assert.equal(first, "current log level is info,access=debug");
    assert.match(second, /no zt counterpart: hickory_server::server /);
    const recs = lines.map((l) => JSON.parse(l));
    assert.ok(recs.some((x) => x.scope === "admin" && x.message === "new log filter"));
    assert.ok(recs.some((x) => x.level === "warn" && /hickory_server::server/.test(x.message)));
  } finally {
    await h.close();
  }
});

Deno.test("admin: POST /quitquitquit replies 'shutdown now' and triggers shutdown once", async () => {
  const h = start();
  try {
    const r = await call(h, "/quitquitquit", "POST");
    assert.equal(r.status, 200);
    assert.equal(r.body, "shutdown now\n");
    await h.shutdownCalled;
    const again = await call(h, "/quitquitquit", "POST");
    assert.equal(again.body, "shutdown now\n");
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(h.shutdowns, 1);
  } finally {
    await h.close();
  }
});

Deno.test("admin: GET / renders the node at a glance with escaped values", async () => {
  const h = start();
  try {
    const { status, body, res } = await call(h, "/");
    assert.equal(status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(body, /^<!DOCTYPE html>/);
    assert.ok(body.includes("httpbin-648cd984f8-2q9bn"));
    assert.ok(body.includes("10.244.2.58:41000"));
    assert.ok(body.includes("spiffe://cluster.local/ns/ambient-demo/sa/httpbin"));
    assert.ok(body.includes("2.0 KiB") && body.includes("17 B"));
    assert.ok(body.includes("1m5s"));
    assert.ok(!body.includes("<script>"));
    assert.ok(body.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  } finally {
    await h.close();
  }
});

Deno.test("admin: `localhost` binds 127.0.0.1 and [::1] on one port, as ztunnel's Address::Localhost", async () => {
  const sink = new LogSink(parseLogFilter("info"), "plain", () => {});
  const server = serveAdmin({
    hostname: "localhost",
    port: 0,
    deps: {
      configDump: () => ({}),
      logSink: sink,
      shutdown: () => Promise.resolve(),
      connections: () => [],
    },
  });
  try {
    assert.deepEqual(server.addrs.map((a) => a.hostname), ["127.0.0.1", "::1"]);
    const port = server.addr.port;
    assert.equal(server.addrs[1].port, port);
    for (const host of ["127.0.0.1", "[::1]"]) {
      const r = await fetch(`http://${host}:${port}/logging`, { method: "POST" });
      assert.equal(await r.text(), "current log level is info\n", host);
    }
  } finally {
    await server.shutdown();
  }
  await server.finished;
});
