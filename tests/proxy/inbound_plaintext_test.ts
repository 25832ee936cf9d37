/**
 * Inbound plaintext (15006) on loopback: an accepted connection is handed over with an original
 * destination (what SO_ORIGINAL_DST or TPROXY give in capture). RBAC
 * runs with no identity; allowed bytes reach the app, denied connections never do; the access log
 * carries the real client address; live connections are closed when policy turns against them.
 */
import assert from "node:assert/strict";
import { InboundPlaintext } from "../../lib/proxy/inbound_plaintext.ts";
import { ConnectionManager } from "../../lib/proxy/connection_manager.ts";
import { ConnectionReporter } from "../../lib/proxy/connection_reporter.ts";
import { Logger, LogSink, parseLogFilter } from "../../lib/log/logger.ts";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import type { Decision, RbacConnection } from "../../lib/policy/model.ts";
import { startEchoServer } from "../fakes/echo_server.ts";
import { workload } from "../state/fixtures.ts";
import { hostFactory } from "../fakes/socket_kit.ts";
import type net from "node:net";

const POD_IP = "127.31.0.5";

/** Resolves once `pred` holds (polling the live state the proxies update from callbacks). */
async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(decide: (c: RbacConnection) => Decision) {
  const app = startEchoServer(POD_IP, 0);
  const state = new ProxyState();
  state.replaceAll({
    workloads: [
      workload({ name: "httpbin-1", namespace: "ambient-demo", workloadIps: [POD_IP], node: "node-a" }),
    ],
    services: [],
    policies: [],
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new LogSink(parseLogFilter("info"), "json", (l) => logs.push(JSON.parse(l)));
  const connections = new ConnectionManager();
  const rbac: RbacConnection[] = [];
  const plaintext = new InboundPlaintext({
    state,
    node: "node-a",
    authorize: (_w, c) => {
      rbac.push(c);
      return decide(c);
    },
    connections,
    reporter: new ConnectionReporter(new Logger(sink, "access")),
    log: new Logger(sink, "inbound"),
  });
  const listener = hostFactory().listenTcp({ ip: "127.0.0.1", port: 0 });
  const accepted: Array<(s: net.Socket) => void> = [];
  listener.serve({ onConnection: ({ socket }) => accepted.shift()?.(socket) });
  const ctx = { factory: hostFactory(), spoofSource: false, podUid: "httpbin-1" };
  /** Connects and hands the accepted side over as captured for `dst`. */
  const connect = async (dst: { hostname: string; port: number }) => {
    const sock = new Promise<net.Socket>((r) => accepted.push(r));
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.address.port });
    const started = plaintext.handle(ctx, await sock, { ip: dst.hostname, port: dst.port });
    const done = started.then(() => until(() => logs.some((l) => l.message === "connection complete")));
    return { client, done, clientAddr: client.localAddr as Deno.NetAddr };
  };
  const close = async () => {
    listener.close();
    await app.close();
  };
  return { app, logs, connections, rbac, connect, close };
}

async function readAll(c: Deno.Conn): Promise<string> {
  let out = "";
  const buf = new Uint8Array(1024);
  try {
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch { /* reset */ }
  return out;
}

const allow: Decision = { allowed: true, reason: "no allow policies, allow", dryRunMatches: [] };
const strict: Decision = {
  allowed: false,
  reason: "explicitly denied by: istio-system/istio_converted_static_strict",
  policy: "istio-system/istio_converted_static_strict",
  dryRunMatches: [],
};

Deno.test("inbound plaintext: allowed → relayed to the pod's app; RBAC saw no identity; the log has the client's address", async () => {
  const f = setup(() => allow);
  try {
    const dst = { hostname: POD_IP, port: f.app.port };
    const { client, done, clientAddr } = await f.connect(dst);
    await client.write(new TextEncoder().encode("hello app"));
    await client.closeWrite();
    assert.equal(await readAll(client), "hello app");
    client.close();
    await done;
    assert.equal(f.app.accepted, 1);
    assert.deepEqual(f.rbac, [{ srcIp: clientAddr.hostname, dstIp: POD_IP, dstPort: f.app.port }]);
    const rec = f.logs.find((l) => l.message === "connection complete")!;
    assert.equal(rec["src.addr"], `${clientAddr.hostname}:${clientAddr.port}`);
    assert.equal(rec["src.identity"], undefined);
    assert.equal(rec["dst.addr"], `${POD_IP}:${f.app.port}`);
    assert.equal(rec["dst.workload"], "httpbin-1");
    assert.equal(rec.direction, "inbound");
    assert.equal(rec.bytes_sent, 9);
    assert.equal(rec.level, "info");
  } finally {
    await f.close();
  }
});

Deno.test("inbound plaintext: STRICT denies → the app never sees a connection; logged as a policy rejection", async () => {
  const f = setup(() => strict);
  try {
    const { client, done } = await f.connect({ hostname: POD_IP, port: f.app.port });
    await client.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n")).catch(() => {});
    assert.equal(await readAll(client), "");
    client.close();
    await done;
    assert.equal(f.app.accepted, 0);
    const rec = f.logs.find((l) => l.message === "connection complete")!;
    assert.equal(rec.level, "error");
    assert.equal(
      rec.error,
      "connection closed due to policy rejection: explicitly denied by: istio-system/istio_converted_static_strict",
    );
    assert.ok(f.logs.some((l) => l.message === "RBAC rejected"));
  } finally {
    await f.close();
  }
});

Deno.test("inbound plaintext: not a local pod, or a zt port, is refused before RBAC", async () => {
  const f = setup(() => allow);
  try {
    for (const dst of [{ hostname: "127.31.0.77", port: 80 }, { hostname: POD_IP, port: 15008 }]) {
      const { client, done } = await f.connect({ ...dst });
      assert.equal(await readAll(client), "");
      client.close();
      await done;
    }
    await until(() => f.logs.filter((l) => l.message === "connection complete").length === 2);
    assert.deepEqual(f.rbac, []);
    const errors = f.logs.filter((l) => l.message === "connection complete").map((l) => l.error);
    assert.deepEqual(errors, [
      "127.31.0.77 is not a local pod",
      `self call: ${POD_IP}:15008 is a zt proxy port`,
    ]);
  } finally {
    await f.close();
  }
});

Deno.test("inbound plaintext: a live connection is closed when a policy update denies it", async () => {
  let decision = allow;
  const f = setup(() => decision);
  try {
    const { client, done } = await f.connect({ hostname: POD_IP, port: f.app.port });
    await client.write(new TextEncoder().encode("ping"));
    const buf = new Uint8Array(4);
    assert.equal(await client.read(buf), 4);
    assert.equal(f.connections.size, 1);
    decision = strict;
    assert.equal(f.connections.recheckAll(), 1);
    assert.equal(await readAll(client), "");
    client.close();
    await done;
    assert.equal(f.connections.size, 0);
    const rec = f.logs.find((l) => l.message === "connection complete")!;
    assert.match(String(rec.error), /^connection closed due to policy change: explicitly denied/);
  } finally {
    await f.close();
  }
});
