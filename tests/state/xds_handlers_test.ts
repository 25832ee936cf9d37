/** The xDS state handlers against a real ProxyState: upserts, staging, removals, per-resource NACKs. */
import assert from "node:assert/strict";
import { silentLogger } from "../../lib/log/logger.ts";
import { encodeAuthorization } from "../../lib/policy/authorization_from_xds.ts";
import { ProxyState, type StateChangeKind } from "../../lib/state/proxy_state.ts";
import { encodeAddress } from "../../lib/state/workload_from_xds.ts";
import { addressHandler, authorizationHandler, type PushOutcome } from "../../lib/state/xds_handlers.ts";
import type { XdsResourceUpdate } from "../../lib/xds/ads_client.ts";
import type { FakeResource } from "../fakes/fake_istiod.ts";
import { podResource, podUid, policyResource, serviceResource } from "../fakes/xds_resources.ts";

const NS = "shop";
const SVC_KEY = `${NS}/cart.${NS}.svc.cluster.local`;

function updates(...rs: FakeResource[]): XdsResourceUpdate[] {
  return rs.map((r) => ({
    name: r.name,
    version: r.version ?? "1",
    aliases: r.aliases ?? [],
    body: r.body!,
  }));
}

function setup() {
  const state = new ProxyState();
  const changes: StateChangeKind[] = [];
  state.onChange((c) => changes.push(c.kind));
  const pushes: PushOutcome[] = [];
  const opts = { state, log: silentLogger(), onPush: (_t: string, o: PushOutcome) => pushes.push(o) };
  return { state, changes, pushes, address: addressHandler(opts), authz: authorizationHandler(opts) };
}

const cart1 = {
  name: "cart-1",
  namespace: NS,
  ip: "10.0.0.1",
  node: "n1",
  services: { [SVC_KEY]: { 80: 8080 } },
};
const cart2 = {
  name: "cart-2",
  namespace: NS,
  ip: "10.0.0.2",
  node: "n2",
  services: { [SVC_KEY]: { 80: 8080 } },
};
const cart = { name: "cart", namespace: NS, vip: "10.96.0.10", ports: { 80: 8080 } };

Deno.test("workloads before their service are staged, then become its endpoints", () => {
  const { state, address, changes } = setup();
  assert.deepEqual(address.apply(updates(podResource(cart1), podResource(cart2)), []).size, 0);
  assert.deepEqual(changes, ["workload"], "one push, one change per kind");
  assert.deepEqual([...state.stagedServices().get(SVC_KEY)!.keys()], [podUid(cart1), podUid(cart2)]);
  assert.equal(state.service(SVC_KEY), undefined);

  assert.equal(address.apply(updates(serviceResource(cart)), []).size, 0);
  assert.equal(state.stagedServices().size, 0);
  assert.equal(state.serviceByAddress("", "10.96.0.10")?.hostname, `cart.${NS}.svc.cluster.local`);
  assert.deepEqual(state.endpoints(SVC_KEY).map((e) => e.workload.name), ["cart-1", "cart-2"]);
  assert.deepEqual(changes, ["workload", "service"]);
});

Deno.test("a bad resource is rejected by name; the rest of the push applies", () => {
  const { state, address, changes, pushes } = setup();
  address.apply(updates(podResource(cart1)), []);
  const legacy = podResource({ ...cart2, tunnelProtocol: 2 });
  const garbage = { name: "garbage", body: new Uint8Array([0x0a, 0xff, 0xff]) };
  const neither = { name: "empty", body: encodeAddress({}) };
  const noUid = { name: "no-uid", body: encodeAddress({ workload: { name: "x", namespace: NS } }) };
  const updated = podResource({ ...cart1, ip: "10.0.0.11", version: "2" });
  const rejects = address.apply(
    updates(legacy, serviceResource(cart), garbage, neither, noUid, updated),
    [],
  );
  assert.deepEqual([...rejects.keys()].sort(), ["Kubernetes//Pod/shop/cart-2", "empty", "garbage", "no-uid"]);
  assert.match(rejects.get(podUid(cart2))!, /tunnel_protocol: LEGACY_ISTIO_MTLS is not supported/);
  assert.match(rejects.get("garbage")!, /invalid istio\.workload\.Address/);
  assert.match(rejects.get("empty")!, /neither workload nor service/);
  assert.match(rejects.get("no-uid")!, /uid is empty/);
  assert.ok(state.service(SVC_KEY), "the good service applied");
  assert.equal(state.workload(podUid(cart1))?.workloadIps[0], "10.0.0.11", "the good update applied");
  assert.equal(state.workload(podUid(cart2)), undefined, "the rejected workload was not added");
  assert.deepEqual(changes, ["workload", "service", "workload"]);
  assert.deepEqual(pushes.at(-1), { upserted: 2, removed: 0, unknownRemovals: 0, rejected: 4 });

  // A rejected update of a held workload leaves the old version serving.
  const bad = podResource({ ...cart1, tunnelProtocol: 2, version: "3" });
  assert.equal(address.apply(updates(bad), []).size, 1);
  assert.equal(state.workload(podUid(cart1))?.workloadIps[0], "10.0.0.11");
});

Deno.test("removals: a workload uid, then a service ns/hostname; unknown names are ignored", () => {
  const { state, address, pushes } = setup();
  address.apply(updates(podResource(cart1), podResource(cart2), serviceResource(cart)), []);
  assert.equal(address.apply([], [podUid(cart2), "shop/nothing.example", SVC_KEY]).size, 0);
  assert.deepEqual(pushes.at(-1), { upserted: 0, removed: 2, unknownRemovals: 1, rejected: 0 });
  assert.equal(state.workload(podUid(cart2)), undefined);
  assert.equal(state.service(SVC_KEY), undefined);
  assert.deepEqual(
    [...state.stagedServices().get(SVC_KEY)!.keys()],
    [podUid(cart1)],
    "the remaining endpoint waits for the service again",
  );
  assert.equal(state.workloadByIp("", "10.0.0.2"), undefined, "the IP index forgets the removed pod");
});

Deno.test("authorization: upsert by ns/name, per-resource rejection, removal", () => {
  const { state, authz, changes } = setup();
  const deny = policyResource({
    name: "deny-evil",
    namespace: NS,
    scope: 1,
    action: 1,
    matches: [{ principals: [{ exact: "spiffe://cluster.local/ns/evil/sa/x" }] }],
  });
  const badIp = {
    name: `${NS}/bad-ip`,
    body: encodeAuthorization({
      name: "bad-ip",
      namespace: NS,
      rules: [{
        clauses: [{ matches: [{ sourceIps: [{ address: new Uint8Array([1, 2, 3]), length: 8 }] }] }],
      }],
    }),
  };
  const rejects = authz.apply(updates(deny, badIp), []);
  assert.deepEqual([...rejects.keys()], [`${NS}/bad-ip`]);
  assert.match(
    rejects.get(`${NS}/bad-ip`)!,
    /rules\[0\]\.clauses\[0\]\.matches\[0\]\.source_ips\[0\]\.address/,
  );
  const p = state.policy(`${NS}/deny-evil`);
  assert.equal(p?.action, "Deny");
  assert.equal(p?.scope, "Namespace");
  assert.deepEqual(changes, ["policy"]);

  assert.equal(authz.apply([], [`${NS}/deny-evil`]).size, 0);
  assert.equal(state.policy(`${NS}/deny-evil`), undefined);
  assert.deepEqual(changes, ["policy", "policy"]);
  // A removal of a name that is not a policy does not touch workloads of that name.
  const { state: s2, address: a2, authz: z2 } = setup();
  a2.apply(updates(podResource(cart1)), []);
  z2.apply([], [podUid(cart1)]);
  assert.ok(s2.workload(podUid(cart1)));
});

Deno.test("workloads carry istiod's policy bindings as sent (no label selection)", () => {
  const { state, address, authz } = setup();
  authz.apply(
    updates(
      policyResource({
        name: "allow-web",
        namespace: NS,
        scope: 2,
        action: 0,
        matches: [{ namespaces: [{ exact: NS }] }],
      }),
    ),
    [],
  );
  address.apply(updates(podResource({ ...cart1, policies: [`${NS}/allow-web`] }), podResource(cart2)), []);
  assert.deepEqual(state.workload(podUid(cart1))?.authorizationPolicies, [`${NS}/allow-web`]);
  assert.deepEqual(state.workload(podUid(cart2))?.authorizationPolicies, []);
});
