/** The DNS proxy's settings: ztunnel's ISTIO_META_DNS_* semantics, zt's upstream list and timeout. */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/config.ts";
import { ConfigError } from "../../lib/config/parse.ts";

Deno.test("dns settings: on by default; off only when ISTIO_META_DNS_CAPTURE is set to something but true", () => {
  assert.equal(loadConfig({}).dnsCapture, true);
  assert.equal(loadConfig({ ISTIO_META_DNS_CAPTURE: "TRUE" }).dnsCapture, true);
  assert.equal(loadConfig({ ISTIO_META_DNS_CAPTURE: "false" }).dnsCapture, false);
  assert.equal(
    loadConfig({ ISTIO_META_DNS_CAPTURE: "yes" }).dnsCapture,
    false,
    "ztunnel: anything but true is off",
  );
  assert.equal(loadConfig({ ISTIO_META_DNS_CAPTURE: "" }).dnsCapture, false);
  assert.equal(loadConfig({ PROXY_CONFIG: "proxyMetadata:\n  DNS_CAPTURE: 'false'\n" }).dnsCapture, false);
  assert.equal(loadConfig({}, { "dns-capture": "false" }).dnsCapture, false);
});

Deno.test("dns settings: the proxy address is localhost:P or one IP:P", () => {
  assert.deepEqual(loadConfig({}).dnsProxyAddr, { host: "localhost", port: 15053 });
  assert.deepEqual(loadConfig({ ISTIO_META_DNS_PROXY_ADDR: "localhost:5353" }).dnsProxyAddr, {
    host: "localhost",
    port: 5353,
  });
  assert.deepEqual(loadConfig({}, { "dns-proxy-addr": "[::1]:15053" }).dnsProxyAddr, {
    host: "::1",
    port: 15053,
  });
  assert.deepEqual(loadConfig({ ISTIO_META_DNS_PROXY_ADDR: "10.0.0.5:53" }).dnsProxyAddr, {
    host: "10.0.0.5",
    port: 53,
  });
  assert.throws(() => loadConfig({ ISTIO_META_DNS_PROXY_ADDR: "dns.example:53" }), ConfigError);
});

Deno.test("dns settings: upstreams (port 53 by default), timeout, preferred namespace, IPv6", () => {
  const c = loadConfig({
    ZT_DNS_UPSTREAMS: "10.96.0.10, 127.0.0.1:5300,[::1]:53,fd00::1",
    ZT_DNS_UPSTREAM_TIMEOUT: "300ms",
    PREFERED_SERVICE_NAMESPACE: "istio-system",
    IPV6_ENABLED: "false",
  });
  assert.deepEqual(c.dnsUpstreams, [
    { ip: "10.96.0.10", port: 53 },
    { ip: "127.0.0.1", port: 5300 },
    { ip: "::1", port: 53 },
    { ip: "fd00::1", port: 53 },
  ]);
  assert.equal(c.dnsUpstreamTimeoutMs, 300);
  assert.equal(c.preferedServiceNamespace, "istio-system");
  assert.equal(c.ipv6Enabled, false);
  assert.equal(loadConfig({}).dnsUpstreams, undefined, "default: /etc/resolv.conf at pod start");
  assert.throws(() => loadConfig({ ZT_DNS_UPSTREAMS: "resolver.local" }), ConfigError);
});
