/** sourceWorkload: who the tunnel comes from, for logs and metrics, also when it starts on a node. */
import assert from "node:assert/strict";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import { sourceWorkload } from "../../lib/proxy/inbound.ts";
import type { InboundTunnel } from "../../lib/tunnel/hbone_server.ts";
import { workload } from "../state/fixtures.ts";

const sleepId = { trustDomain: "cluster.local", namespace: "default", serviceAccount: "sleep" };

function tunnel(peerIp: string, forwarded?: string, id = sleepId): InboundTunnel {
  return {
    peerAddr: { ip: peerIp, port: 40000 },
    peerIdentity: id,
    headers: forwarded ? [["forwarded", forwarded]] : [],
  } as unknown as InboundTunnel;
}

function state(): ProxyState {
  const s = new ProxyState();
  s.upsertWorkload({ ...workload({ name: "sleep" }), serviceAccount: "sleep", workloadIps: ["10.0.0.5"] });
  s.upsertWorkload({ ...workload({ name: "other" }), serviceAccount: "other", workloadIps: ["10.0.0.6"] });
  return s;
}

Deno.test("the pod that owns the peer IP", () => {
  assert.equal(sourceWorkload(state(), tunnel("10.0.0.5"))?.name, "sleep");
});

Deno.test("a tunnel from a node: the pod named by forwarded for=, when its identity is the peer's", () => {
  assert.equal(sourceWorkload(state(), tunnel("10.1.0.1", `for="10.0.0.5:33000"`))?.name, "sleep");
  assert.equal(
    sourceWorkload(state(), tunnel("10.1.0.1", `for="10.0.0.5:1";host=web.default`))?.name,
    "sleep",
  );
});

Deno.test("a forwarded claim for another identity's pod is ignored", () => {
  assert.equal(sourceWorkload(state(), tunnel("10.1.0.1", `for="10.0.0.6:33000"`)), undefined);
  assert.equal(sourceWorkload(state(), tunnel("10.1.0.1")), undefined);
});
