/** guessInboundService: the destination reporter's `destination_service`, as ztunnel guesses it. */
import assert from "node:assert/strict";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { guessInboundService } from "../../lib/proxy/inbound.ts";
import { service, workload } from "../state/fixtures.ts";

function state() {
  const s = new ProxyState();
  // web: 80 → 8080; admin: 9000 → target port 0 (a named port: each endpoint says where it listens).
  s.upsertService(service({ name: "web", ports: { 80: 8080 } }));
  s.upsertService(service({ name: "admin", ports: { 9000: 0 } }));
  const pod = workload({
    name: "pod-1",
    services: {
      "default/web.default.svc.cluster.local": { 80: 8080 },
      "default/admin.default.svc.cluster.local": { 9000: 9901 },
    },
  });
  s.upsertWorkload(pod);
  return { s, pod };
}

Deno.test("the service whose target port is the port reached", () => {
  const { s, pod } = state();
  assert.equal(guessInboundService(s, pod, 8080)?.hostname, "web.default.svc.cluster.local");
});

Deno.test("a named port: the endpoint's own target port", () => {
  const { s, pod } = state();
  assert.equal(guessInboundService(s, pod, 9901)?.hostname, "admin.default.svc.cluster.local");
});

Deno.test("no service for other ports, or for a workload in none", () => {
  const { s, pod } = state();
  assert.equal(guessInboundService(s, pod, 7777), undefined);
  assert.equal(guessInboundService(s, workload({ name: "lonely" }), 8080), undefined);
});
