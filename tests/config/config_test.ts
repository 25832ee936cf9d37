import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/config.ts";
import { ConfigError } from "../../lib/config/parse.ts";

Deno.test("defaults follow ztunnel, standalone by default when a local config and CA are given", () => {
  const c = loadConfig({ LOCAL_XDS_PATH: "/etc/zt/mesh.yaml", LOCAL_CA_DIR: "/etc/zt/ca" }, {}, "host-1");
  assert.equal(c.nodeName, "host-1");
  assert.equal(c.xdsAddress, "");
  assert.equal(c.caAddress, "");
  assert.equal(c.secretTtlMs, 24 * 3600_000);
  assert.equal(c.poolMaxStreamsPerConnection, 100);
  assert.equal(c.http2StreamWindowSize, 4 * 1024 * 1024);
  assert.equal(c.http2ConnectionWindowSize, 16 * 1024 * 1024);
  assert.equal(c.http2FrameSize, 1024 * 1024);
  assert.equal(c.connectionTerminationDeadlineMs, 5000);
  assert.deepEqual(c.adminAddr, { hostname: "localhost", port: 15000 }, "127.0.0.1 and ::1, as ztunnel");
  assert.ok(Object.isFrozen(c));
});

Deno.test("without local config, xDS and CA default to istiod (in and out of Kubernetes)", () => {
  assert.equal(loadConfig({}).xdsAddress, "https://localhost:15012");
  const k = loadConfig({ KUBERNETES_SERVICE_HOST: "10.0.0.1" });
  assert.equal(k.xdsAddress, "https://istiod.istio-system.svc:15012");
  assert.equal(k.caAddress, "https://istiod.istio-system.svc:15012");
  assert.equal(loadConfig({ XDS_ADDRESS: "istiod:15012" }).xdsAddress, "https://istiod:15012");
  assert.equal(loadConfig({ XDS_ADDRESS: "" }).xdsAddress, "", "empty disables");
});

Deno.test("flags win over the environment; a loopback node's servers bind its INSTANCE_IP", () => {
  const c = loadConfig({ NODE_NAME: "env", INSTANCE_IP: "127.1.2.3" }, { "node-name": "flag" });
  assert.equal(c.nodeName, "flag");
  assert.deepEqual(c.adminAddr, { hostname: "127.1.2.3", port: 15000 });
  assert.deepEqual(c.statsAddr, { hostname: "127.1.2.3", port: 15020 });
  assert.deepEqual(c.readinessAddr, { hostname: "127.1.2.3", port: 15021 });
  const v6 = loadConfig({ INSTANCE_IP: "::1" });
  assert.deepEqual([v6.adminAddr, v6.statsAddr], [{ hostname: "::1", port: 15000 }, {
    hostname: "::1",
    port: 15020,
  }]);
  // INSTANCE_IP unset: a loopback node on 127.0.0.1 for metrics and readiness, admin on localhost
  const d = loadConfig({});
  assert.deepEqual([d.adminAddr.hostname, d.statsAddr.hostname, d.readinessAddr.hostname], [
    "localhost",
    "127.0.0.1",
    "127.0.0.1",
  ]);
});

Deno.test("in a pod (INSTANCE_IP the pod's IP): admin on localhost only, metrics and readiness on [::]", () => {
  for (const ip of ["10.244.1.7", "fd00:10:244::7"]) {
    const c = loadConfig({ INSTANCE_IP: ip });
    assert.deepEqual(c.adminAddr, { hostname: "localhost", port: 15000 }, ip);
    assert.deepEqual(c.statsAddr, { hostname: "::", port: 15020 }, ip);
    assert.deepEqual(c.readinessAddr, { hostname: "::", port: 15021 }, ip);
  }
  // ADMIN_ADDR (and the others) still override; `:port` keeps the default host
  const o = loadConfig({
    INSTANCE_IP: "10.244.1.7",
    ADMIN_ADDR: "0.0.0.0:15000",
    STATS_ADDR: "10.244.1.7:9090",
  });
  assert.deepEqual(o.adminAddr, { hostname: "0.0.0.0", port: 15000 });
  assert.deepEqual(o.statsAddr, { hostname: "10.244.1.7", port: 9090 });
  assert.deepEqual(loadConfig({ ADMIN_ADDR: ":16000" }).adminAddr, { hostname: "localhost", port: 16000 });
  assert.deepEqual(loadConfig({ ADMIN_ADDR: "localhost:16000" }).adminAddr, {
    hostname: "localhost",
    port: 16000,
  });
  assert.deepEqual(loadConfig({}, { "admin-addr": "[::1]:16001" }).adminAddr, {
    hostname: "::1",
    port: 16001,
  });
});

Deno.test("a bad value fails naming the variable and the value", () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ SECRET_TTL: "soon" }, /SECRET_TTL="soon"/],
    [{ POOL_MAX_STREAMS_PER_CONNECTION: "0" }, /POOL_MAX_STREAMS_PER_CONNECTION="0"/],
    [{ HTTP2_FRAME_SIZE: "100" }, /HTTP2_FRAME_SIZE="100"/],
    [{ INSTANCE_IP: "node-a" }, /INSTANCE_IP="node-a"/],
    [{ LOG_FORMAT: "xml" }, /LOG_FORMAT="xml"/],
    [{ RUST_LOG: "xds=loud" }, /RUST_LOG="xds=loud"/],
    [{ UNSTABLE_ENABLE_SOCKS5: "maybe" }, /UNSTABLE_ENABLE_SOCKS5="maybe"/],
    [{ ADMIN_ADDR: "nowhere" }, /ADMIN_ADDR="nowhere"/],
    [{ ZT_CAPTURE: "ebpf" }, /ZT_CAPTURE="ebpf"/],
  ];
  for (const [env, re] of bad) {
    assert.throws(
      () => loadConfig(env),
      (e) => e instanceof ConfigError && re.test(e.message),
      JSON.stringify(env),
    );
  }
});

Deno.test("RUST_LOG in ztunnel's target syntax starts zt (unknown targets are ignored, not refused)", () => {
  for (
    const v of [
      "info",
      "ztunnel::proxy=debug",
      "hickory_server::server=off,info",
      "ztunnel::proxy::inbound=trace",
      "access=info",
      "loud",
    ]
  ) {
    assert.equal(loadConfig({ RUST_LOG: v }).logFilter, v);
  }
});

Deno.test("drain deadline derives from TERMINATION_GRACE_PERIOD_SECONDS as ztunnel does", () => {
  assert.equal(
    loadConfig({ TERMINATION_GRACE_PERIOD_SECONDS: "30" }).connectionTerminationDeadlineMs,
    25_000,
  );
  assert.equal(loadConfig({ TERMINATION_GRACE_PERIOD_SECONDS: "5" }).connectionTerminationDeadlineMs, 4_000);
  assert.equal(loadConfig({ TERMINATION_GRACE_PERIOD_SECONDS: "1" }).connectionTerminationDeadlineMs, 1_000);
  assert.equal(
    loadConfig({ TERMINATION_GRACE_PERIOD_SECONDS: "30", CONNECTION_TERMINATION_DEADLINE: "2s" })
      .connectionTerminationDeadlineMs,
    2_000,
  );
});

Deno.test("XDS_HEADER_* and CA_HEADER_* become gRPC headers, lowercased with underscores kept", () => {
  const c = loadConfig({ XDS_HEADER_X_Tenant: "t1", CA_HEADER_foo: "bar" });
  assert.deepEqual(c.xdsHeaders, { x_tenant: "t1" });
  assert.deepEqual(c.caHeaders, { foo: "bar" });
});

Deno.test("SOCKS5: on for standalone nodes, off in in-pod mode as in ztunnel, either way when set", () => {
  assert.equal(loadConfig({}).socks5Enabled, true);
  assert.equal(loadConfig({ INPOD_ENABLED: "true" }).socks5Enabled, false);
  assert.equal(loadConfig({ INPOD_UDS: "/var/run/ztunnel/ztunnel.sock" }).socks5Enabled, false);
  assert.equal(loadConfig({ INPOD_ENABLED: "true", UNSTABLE_ENABLE_SOCKS5: "true" }).socks5Enabled, true);
  assert.equal(loadConfig({ UNSTABLE_ENABLE_SOCKS5: "false" }).socks5Enabled, false);
});
