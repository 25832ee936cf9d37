/** In-pod settings in Config: ztunnel's names and defaults, INPOD_ENABLED as the chart sets it. */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/config.ts";
import { ConfigError } from "../../lib/config/parse.ts";

Deno.test("inpod settings: defaults are ztunnel's (shared mode, mark 1337, port reuse) with in-pod mode off", () => {
  const c = loadConfig({});
  assert.equal(c.proxyMode, "shared");
  assert.equal(c.inpodEnabled, false);
  assert.equal(c.inpodUds, "/var/run/ztunnel/ztunnel.sock");
  assert.equal(c.inpodPortReuse, true);
  assert.equal(c.packetMark, 1337);
});

Deno.test("inpod settings: INPOD_ENABLED=true or INPOD_UDS turns in-pod mode on; flags win", () => {
  assert.equal(loadConfig({ INPOD_ENABLED: "true" }).inpodEnabled, true);
  assert.equal(loadConfig({ INPOD_ENABLED: "false" }).inpodEnabled, false);
  const uds = loadConfig({ INPOD_UDS: "/tmp/zds.sock" });
  assert.equal(uds.inpodEnabled, true);
  assert.equal(uds.inpodUds, "/tmp/zds.sock");
  assert.equal(loadConfig({ INPOD_ENABLED: "false", INPOD_UDS: "/tmp/z.sock" }).inpodEnabled, true);
  const flags = loadConfig({ INPOD_UDS: "/tmp/a.sock" }, { "inpod-uds": "/tmp/b.sock", "packet-mark": "7" });
  assert.equal(flags.inpodUds, "/tmp/b.sock");
  assert.equal(flags.packetMark, 7);
  assert.equal(loadConfig({ INPOD_PORT_REUSE: "false" }).inpodPortReuse, false);
});

Deno.test("inpod settings: dedicated mode has no mark unless set and no in-pod mode", () => {
  const d = loadConfig({ PROXY_MODE: "dedicated", INPOD_UDS: "/tmp/zds.sock" });
  assert.equal(d.proxyMode, "dedicated");
  assert.equal(d.packetMark, undefined);
  assert.equal(d.inpodEnabled, false);
  assert.equal(loadConfig({ PROXY_MODE: "dedicated", PACKET_MARK: "1337" }).packetMark, 1337);
});

Deno.test("inpod settings: bad values are errors naming the variable", () => {
  const bad: ReadonlyArray<[Record<string, string>, string]> = [
    [{ PROXY_MODE: "sidecar" }, "PROXY_MODE"],
    [{ INPOD_ENABLED: "maybe" }, "INPOD_ENABLED"],
    [{ INPOD_PORT_REUSE: "2" }, "INPOD_PORT_REUSE"],
    [{ PACKET_MARK: "0x539" }, "PACKET_MARK"],
    [{ PACKET_MARK: "4294967296" }, "PACKET_MARK"],
    [{ PROXY_MODE: "dedicated", INPOD_ENABLED: "true" }, "INPOD_ENABLED"],
  ];
  for (const [env, variable] of bad) {
    assert.throws(
      () => loadConfig(env),
      (e) => e instanceof ConfigError && e.variable === variable,
      variable,
    );
  }
  assert.throws(
    () => loadConfig({ PROXY_MODE: "sidecar" }),
    /invalid PROXY_MODE="sidecar": expected one of shared, dedicated/,
  );
});
