/** The bench's ztunnel setup without starting anything: finding the binary, its environment, the config. */
import assert from "node:assert/strict";
import { ztunnelOrNotRun } from "../../bench/ztunnel.ts";
import { NODE_A, NODE_B, TWO_NODE_CONFIG } from "../../bench/ztunnel_topology.ts";
import { NotRun } from "../../bench/setup.ts";
import { ztunnelEnv } from "../fakes/ztunnel_node.ts";
import { parseLocalConfig } from "../../lib/state/local_config.ts";

Deno.test("ztunnel setup: not run without ZTUNNEL_BIN, or when it names no executable file", async () => {
  const notRun = (bin: string, re: RegExp) =>
    assert.throws(() => ztunnelOrNotRun(bin), (e) => e instanceof NotRun && re.test(e.message));
  notRun("", /^set ZTUNNEL_BIN to a ztunnel binary/);
  notRun("/nonexistent/ztunnel", /^ZTUNNEL_BIN=\/nonexistent\/ztunnel: /);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ztunnel`, "not a program");
    notRun(`${dir}/ztunnel`, /is not an executable file/);
    notRun(dir, /is not an executable file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(ztunnelOrNotRun(Deno.execPath()), Deno.execPath());
});

Deno.test("ztunnel environment: dedicated mode for one workload, local config, no xDS, SOCKS5", () => {
  const common = {
    workload: { namespace: "bench", name: "client", serviceAccount: "client" },
    configPath: "/c.yaml",
  };
  const fake = ztunnelEnv({ ...common, ca: { kind: "fake" } });
  assert.equal(fake.PROXY_MODE, "dedicated");
  assert.equal(fake.PROXY_WORKLOAD_INFO, "bench/client/client");
  assert.equal(fake.XDS_ADDRESS, "");
  assert.equal(fake.LOCAL_XDS_PATH, "/c.yaml");
  assert.equal(fake.FAKE_CA, "true");
  assert.equal(fake.UNSTABLE_ENABLE_SOCKS5, "true");
  assert.equal(fake.ENABLE_ORIG_SRC, "false");
  assert.equal(fake.LOG_FORMAT, "json");
  const istio = ztunnelEnv({
    ...common,
    ca: { kind: "istio", address: "https://10.0.0.1:15012", rootCertPath: "/root.pem" },
    socks5: false,
    logLevel: "warn",
  });
  assert.deepEqual([istio.CA_ADDRESS, istio.CA_ROOT_CA, istio.FAKE_CA], [
    "https://10.0.0.1:15012",
    "/root.pem",
    undefined,
  ]);
  assert.equal(istio.UNSTABLE_ENABLE_SOCKS5, undefined);
  assert.equal(istio.RUST_LOG, "warn");
});

Deno.test("the two-node config is ztunnel's format and zt reads it: client on node A, server on node B", () => {
  assert.doesNotMatch(TWO_NODE_CONFIG, /labels|namespaces:|---/);
  const cfg = parseLocalConfig(TWO_NODE_CONFIG);
  assert.deepEqual(
    cfg.workloads.map((w) => [w.name, w.node, w.workloadIps[0], w.trustDomain]),
    [["client", NODE_A.name, NODE_A.ip, "cluster.local"], [
      "server",
      NODE_B.name,
      NODE_B.ip,
      "cluster.local",
    ]],
  );
});
