/** Where a pod's DNS proxy binds, from ISTIO_META_DNS_PROXY_ADDR and the pod's mode. */
import assert from "node:assert/strict";
import { dnsBindAddresses } from "../../lib/dns/dns_proxies.ts";

Deno.test("dns bind addresses: localhost in a pod, the pod IP in loopback mode, one explicit IP", () => {
  const local = { host: "localhost", port: 15053 };
  assert.deepEqual(dnsBindAddresses(local, { ip: "10.0.0.5", inOwnNamespace: true, ipv6Enabled: true }), {
    required: [{ ip: "127.0.0.1", port: 15053 }],
    optional: [{ ip: "::1", port: 15053 }],
  });
  assert.deepEqual(
    dnsBindAddresses(local, { ip: "10.0.0.5", inOwnNamespace: true, ipv6Enabled: false }).optional,
    [],
  );
  assert.deepEqual(dnsBindAddresses(local, { ip: "127.10.1.1", inOwnNamespace: false, ipv6Enabled: true }), {
    required: [{ ip: "127.10.1.1", port: 15053 }],
    optional: [],
  });
  assert.deepEqual(
    dnsBindAddresses({ host: "::1", port: 5353 }, {
      ip: "10.0.0.5",
      inOwnNamespace: true,
      ipv6Enabled: true,
    }),
    { required: [{ ip: "::1", port: 5353 }], optional: [] },
  );
});
