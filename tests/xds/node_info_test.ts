import assert from "node:assert/strict";
import { buildNodeInfo } from "../../lib/xds/node_info.ts";

Deno.test("node id and base metadata follow ztunnel's format", () => {
  const n = buildNodeInfo({
    INSTANCE_IP: "10.0.0.7",
    POD_NAME: "ztunnel-abcde",
    POD_NAMESPACE: "istio-system",
    NODE_NAME: "node-a",
    PATH: "/usr/bin",
  });
  assert.equal(n.id, "ztunnel~10.0.0.7~ztunnel-abcde.istio-system~istio-system.svc.cluster.local");
  assert.deepEqual(n.metadata, {
    NAME: "ztunnel-abcde",
    NAMESPACE: "istio-system",
    INSTANCE_IPS: "10.0.0.7",
    NODE_NAME: "node-a",
  });
  assert.deepEqual(n.errors, []);
});

Deno.test("missing env gives ztunnel's defaults (INSTANCE_IP 1.1.1.1, empty names)", () => {
  const n = buildNodeInfo({});
  assert.equal(n.id, "ztunnel~1.1.1.1~.~.svc.cluster.local");
  assert.deepEqual(n.metadata, { NAME: "", NAMESPACE: "", INSTANCE_IPS: "1.1.1.1", NODE_NAME: "" });
});

Deno.test("ISTIO_META_* are stripped, proxyMetadata merged, ISTIO_METAJSON_* parsed", () => {
  const n = buildNodeInfo(
    {
      POD_NAME: "p",
      POD_NAMESPACE: "ns",
      ISTIO_META_CLUSTER_ID: "c1",
      ISTIO_META_DNS_CAPTURE: "true",
      ISTIO_META_: "ignored (empty key)",
      ISTIO_METAJSON_LABELS: '{"app":"z","n":3}',
      ISTIO_METAJSON_BAD: "{nope",
    },
    { ISTIO_META_FROM_MESH: "m", PLAIN: "p", CLUSTER_ID: "overridden-by-env" },
  );
  assert.deepEqual(n.metadata, {
    NAME: "p",
    NAMESPACE: "ns",
    INSTANCE_IPS: "1.1.1.1",
    NODE_NAME: "",
    FROM_MESH: "m",
    PLAIN: "p",
    CLUSTER_ID: "c1",
    DNS_CAPTURE: "true",
    LABELS: { app: "z", n: 3 },
  });
  assert.equal(n.errors.length, 1);
  assert.match(n.errors[0], /ISTIO_METAJSON_BAD/);
});
