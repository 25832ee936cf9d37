/** `GET /dns_lookup` on the admin server: its answers, and its refusals (bad query, unknown pod, DNS off). */
import assert from "node:assert/strict";
import { adminHandler } from "../../lib/admin/admin_server.ts";
import type { DnsLookupFn } from "../../lib/admin/dns_lookup.ts";
import { LogSink } from "../../lib/log/logger.ts";

function handler(lookup: DnsLookupFn | undefined) {
  return adminHandler({
    configDump: () => ({}),
    logSink: new LogSink({ defaultLevel: "off", components: new Map() }, "plain", () => {}),
    shutdown: () => Promise.resolve(),
    connections: () => [],
    dnsLookup: () => lookup,
  });
}

Deno.test("admin /dns_lookup: the pod's answer as JSON; 400, 404, 405 and 503 otherwise", async () => {
  const calls: unknown[] = [];
  const h = handler((pod, name, type) => {
    calls.push([pod, name, type]);
    return Promise.resolve(
      pod === "ns/a"
        ? {
          pod,
          query: `${name}.`,
          type: "AAAA",
          source: "local",
          rcode: "NOERROR",
          authoritative: true,
          result: "no records",
          records: [],
        }
        : "no pod",
    );
  });
  const get = (q: string, method = "GET") => h(new Request(`http://x/dns_lookup?${q}`, { method }));
  const ok = await get("pod=ns/a&name=web&type=aaaa");
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).result, "no records");
  assert.deepEqual(calls, [["ns/a", "web", 28]]);
  assert.equal((await get("pod=ns/b&name=web")).status, 404);
  for (const bad of ["name=web", "pod=ns&name=web", "pod=ns/a", "pod=ns/a&name=web&type=BOGUS"]) {
    const r = await get(bad);
    assert.equal(r.status, 400, bad);
    assert.match(await r.text(), /usage: GET \/dns_lookup/);
  }
  assert.equal((await get("pod=ns/a&name=web", "POST")).status, 405);
  const off = await handler(undefined)(new Request("http://x/dns_lookup?pod=ns/a&name=web"));
  assert.equal(off.status, 503);
});
