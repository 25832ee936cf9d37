/** The stunnel baseline's configuration: TLS 1.3 only, zt's suites, client certificates verified. */
import assert from "node:assert/strict";
import {
  CIPHERSUITES,
  STUNNEL_CLIENT_ADDR,
  STUNNEL_SERVER_ADDR,
  stunnelConfigs,
} from "../../bench/stunnel.ts";

const pki = {
  ca: "/p/ca.crt",
  client: { cert: "/p/client.crt", key: "/p/client.key" },
  server: { cert: "/p/server.crt", key: "/p/server.key" },
};

Deno.test("stunnel configs: mutual TLS 1.3 with zt's cipher suites", () => {
  const { client, server } = stunnelConfigs(pki, "127.20.1.1:19000");
  for (const conf of [client, server]) {
    assert.match(conf, /^sslVersionMin = TLSv1\.3$/m);
    assert.match(conf, /^sslVersionMax = TLSv1\.3$/m);
    assert.match(conf, new RegExp(`^ciphersuites = ${CIPHERSUITES}$`, "m"));
    assert.match(conf, /^verifyChain = yes$/m);
    assert.match(conf, /^CAfile = \/p\/ca\.crt$/m);
    assert.match(conf, /^foreground = yes$/m);
  }
  assert.match(client, /^client = yes$/m);
  assert.match(client, new RegExp(`^accept = ${STUNNEL_CLIENT_ADDR}$`, "m"));
  assert.match(client, new RegExp(`^connect = ${STUNNEL_SERVER_ADDR}$`, "m"));
  assert.match(client, /^cert = \/p\/client\.crt$/m);
  assert.match(server, /^requireCert = yes$/m);
  assert.match(server, /^connect = 127\.20\.1\.1:19000$/m);
  assert.match(server, /^cert = \/p\/server\.crt$/m);
});
