import assert from "node:assert/strict";
import { AUTHORIZATION_TYPE_URL, encodeAuthorization } from "../../lib/policy/authorization_from_xds.ts";
import { ipBytes } from "../../lib/state/ip.ts";
import { ADDRESS_TYPE_URL, encodeAddress } from "../../lib/state/workload_from_xds.ts";
import { parsePrefixedHeaders } from "../../lib/xds/grpc_channel.ts";
import { buildNodeInfo } from "../../lib/xds/node_info.ts";
import { structToJson } from "../../lib/xds/proto.ts";
import { FakeIstiod, type FakeResource } from "../fakes/fake_istiod.ts";
import { startClient, until } from "./ads_fixtures.ts";

function workloadResource(name: string, ip: string, version = "1", extra: object = {}): FakeResource {
  return {
    name,
    version,
    aliases: [`/${ip}`],
    body: encodeAddress({
      workload: { uid: name, name, namespace: "ns", addresses: [ipBytes(ip)!], ...extra },
    }),
  };
}

function policyResource(name: string, version = "1"): FakeResource {
  const [namespace, n] = name.split("/");
  return { name, version, body: encodeAuthorization({ name: n, namespace, scope: 1, action: 1 }) };
}

Deno.test("initial wildcard requests: one per type, with node, token, clusterid and XDS_HEADER_*", async () => {
  const f = await FakeIstiod.start();
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/token`, "jwt-A");
  const env = {
    INSTANCE_IP: "10.0.0.7",
    POD_NAME: "ztunnel-x",
    POD_NAMESPACE: "istio-system",
    NODE_NAME: "node-a",
    ISTIO_META_CLUSTER_ID: "c9",
    XDS_HEADER_foo: "bar",
  };
  const node = buildNodeInfo(env);
  const h = startClient(f, {
    node,
    auth: { kind: "file", path: `${dir}/token`, clusterId: "c9" },
    headers: parsePrefixedHeaders(env, "XDS_HEADER_"),
  });
  try {
    const first = await f.waitForRequest((r) => r.request.typeUrl === ADDRESS_TYPE_URL);
    const second = await f.waitForRequest((r) => r.request.typeUrl === AUTHORIZATION_TYPE_URL);
    for (const r of [first, second]) {
      assert.equal(r.stream, 1);
      assert.equal(
        r.request.node?.id,
        "ztunnel~10.0.0.7~ztunnel-x.istio-system~istio-system.svc.cluster.local",
      );
      assert.deepEqual(structToJson(r.request.node?.metadata), {
        NAME: "ztunnel-x",
        NAMESPACE: "istio-system",
        INSTANCE_IPS: "10.0.0.7",
        NODE_NAME: "node-a",
        CLUSTER_ID: "c9",
      });
      assert.deepEqual([...(r.request.resourceNamesSubscribe ?? [])], []);
      assert.deepEqual([...(r.request.resourceNamesUnsubscribe ?? [])], []);
      assert.deepEqual({ ...r.request.initialResourceVersions }, {});
      assert.equal(r.request.responseNonce ?? "", "");
      assert.equal(r.headers.authorization, "Bearer jwt-A");
      assert.equal(r.headers.clusterid, "c9");
      assert.equal(r.headers.foo, "bar");
    }
    assert.equal(f.requests.length, 2, "exactly one initial request per type");
    await until(() => h.client.connected, "connected");
  } finally {
    await h.close();
    await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every response is ACKed with its nonce; onAcked fires once per type", async () => {
  const f = await FakeIstiod.start();
  const h = startClient(f);
  try {
    await f.waitFor(() => (f.requests.length === 2 ? true : undefined));
    const n1 = f.push(ADDRESS_TYPE_URL, [workloadResource("Kubernetes//Pod/ns/a", "10.0.0.1")]);
    const ack1 = await f.waitForReply(n1);
    assert.deepEqual(
      { typeUrl: ack1.request.typeUrl, nonce: ack1.request.responseNonce, error: ack1.request.errorDetail },
      { typeUrl: ADDRESS_TYPE_URL, nonce: n1, error: null },
    );
    assert.equal(ack1.request.node, null, "an ACK carries no node");
    const u = h.addresses.get("Kubernetes//Pod/ns/a");
    assert.ok(u?.kind === "workload");
    assert.deepEqual(u.workload.workloadIps, ["10.0.0.1"]);
    assert.deepEqual(h.acked, [ADDRESS_TYPE_URL]);

    const n2 = f.push(ADDRESS_TYPE_URL, [workloadResource("Kubernetes//Pod/ns/b", "10.0.0.2")]);
    assert.equal((await f.waitForReply(n2)).request.errorDetail, null);
    const n3 = f.push(AUTHORIZATION_TYPE_URL, [policyResource("ns/deny-all")]);
    assert.equal((await f.waitForReply(n3)).request.errorDetail, null);
    assert.deepEqual(h.acked, [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]);
    assert.equal(h.policies.get("ns/deny-all")?.action, "Deny");
    assert.equal(h.addresses.size, 2);
  } finally {
    await h.close();
    await f.close();
  }
});

Deno.test("malformed resources are NACKed by name while the rest of the push applies", async () => {
  const f = await FakeIstiod.start();
  const h = startClient(f);
  try {
    await f.waitFor(() => (f.requests.length === 2 ? true : undefined));
    const nonce = f.push(ADDRESS_TYPE_URL, [
      workloadResource("good-1", "10.0.0.1"),
      workloadResource("legacy", "10.0.0.2", "1", { tunnelProtocol: 2 }),
      { name: "garbage", version: "1", body: new Uint8Array([0x0a, 0xff, 0x01]) },
      { name: "empty", version: "1" },
      workloadResource("good-2", "10.0.0.3", "7"),
    ]);
    const nack = await f.waitForReply(nonce);
    assert.equal(f.nacks.length, 1);
    const detail = nack.request.errorDetail!;
    assert.equal(detail.code ?? 0, 0, "ztunnel sets only the message");
    const parts = detail.message.split("; ");
    assert.deepEqual(parts.map((p) => p.slice(0, p.indexOf(": "))).sort(), ["empty", "garbage", "legacy"]);
    assert.ok(parts.includes("legacy: tunnel_protocol: LEGACY_ISTIO_MTLS is not supported"), detail.message);
    assert.ok(parts.includes("empty: XDS payload without resource"), detail.message);
    assert.match(detail.message, /garbage: invalid istio\.workload\.Address/);
    assert.deepEqual([...h.addresses.keys()].sort(), ["good-1", "good-2"]);
    assert.deepEqual(Object.fromEntries(h.client.knownResources(ADDRESS_TYPE_URL)), {
      "good-1": "1",
      "good-2": "7",
    });
    assert.deepEqual(h.acked, [], "a NACK is not an ACK for readiness");
    assert.ok(h.logs.some((l) => l.includes("NACK")));
  } finally {
    await h.close();
    await f.close();
  }
});

Deno.test("removed resources leave the state and the known versions", async () => {
  const f = await FakeIstiod.start();
  const h = startClient(f);
  try {
    await f.waitFor(() => (f.requests.length === 2 ? true : undefined));
    await f.waitForReply(
      f.push(ADDRESS_TYPE_URL, [workloadResource("a", "10.0.0.1"), workloadResource("b", "10.0.0.2")]),
    );
    const ack = await f.waitForReply(f.push(ADDRESS_TYPE_URL, [], ["a", "never-existed"]));
    assert.equal(ack.request.errorDetail, null);
    assert.deepEqual([...h.addresses.keys()], ["b"]);
    assert.deepEqual([...h.client.knownResources(ADDRESS_TYPE_URL).keys()], ["b"]);
  } finally {
    await h.close();
    await f.close();
  }
});

Deno.test("an unknown type URL is logged and ACKed", async () => {
  const f = await FakeIstiod.start();
  const h = startClient(f);
  try {
    await f.waitFor(() => (f.requests.length === 2 ? true : undefined));
    const nonce = f.push("type.googleapis.com/istio.workload.Workload", [{
      name: "x",
      body: new Uint8Array([1]),
    }]);
    const ack = await f.waitForReply(nonce);
    assert.equal(ack.request.typeUrl, "type.googleapis.com/istio.workload.Workload");
    assert.equal(ack.request.errorDetail, null);
    assert.deepEqual(h.acked, []);
    assert.ok(h.logs.some((l) => l.includes("unknown type")));
  } finally {
    await h.close();
    await f.close();
  }
});
