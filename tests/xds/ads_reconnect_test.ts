import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { AUTHORIZATION_TYPE_URL, encodeAuthorization } from "../../lib/policy/authorization_from_xds.ts";
import { ipBytes } from "../../lib/state/ip.ts";
import { ADDRESS_TYPE_URL, encodeAddress } from "../../lib/state/workload_from_xds.ts";
import type { TerminationReason } from "../../lib/xds/ads_client.ts";
import { FakeIstiod, type FakeResource } from "../fakes/fake_istiod.ts";
import { startClient, until } from "./ads_fixtures.ts";

function wl(name: string, ip: string, version: string, extra: object = {}): FakeResource {
  return {
    name,
    version,
    body: encodeAddress({
      workload: { uid: name, name, namespace: "ns", addresses: [ipBytes(ip)!], ...extra },
    }),
  };
}

Deno.test("kill + restart: reconnects with the accepted versions, a re-read token, and keeps serving state", async () => {
  const f = await FakeIstiod.start();
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/token`, "token-before");
  const h = startClient(f, { auth: { kind: "file", path: `${dir}/token`, clusterId: "c1" } });
  try {
    await f.waitFor(() => (f.requests.length === 2 ? true : undefined));
    await f.waitForReply(f.push(ADDRESS_TYPE_URL, [wl("a", "10.0.0.1", "v1"), wl("b", "10.0.0.2", "v1")]));
    await f.waitForReply(f.push(ADDRESS_TYPE_URL, [
      wl("a", "10.0.0.1", "v2"),
      wl("bad", "10.0.0.3", "v1", { tunnelProtocol: 2 }),
    ]));
    // b was accepted at v1 and then rejected at v2: it is no longer recorded, so istiod re-sends it.
    await f.waitForReply(f.push(ADDRESS_TYPE_URL, [wl("b", "10.0.0.2", "v2", { tunnelProtocol: 2 })]));
    const policy = encodeAuthorization({ name: "p", namespace: "ns" });
    await f.waitForReply(f.push(AUTHORIZATION_TYPE_URL, [{ name: "ns/p", version: "9", body: policy }]));

    await Deno.writeTextFile(`${dir}/token`, "token-after");
    await f.kill();
    await until(() => !h.client.connected, "disconnected");
    assert.deepEqual([...h.addresses.keys()].sort(), ["a", "b"], "state is kept while disconnected");
    await f.restart();

    const since = f.requests.length;
    const addr = await f.waitForRequest((r) => r.stream === 2 && r.request.typeUrl === ADDRESS_TYPE_URL, {
      since,
    });
    const authz = await f.waitForRequest(
      (r) => r.stream === 2 && r.request.typeUrl === AUTHORIZATION_TYPE_URL,
      {
        since,
      },
    );
    assert.deepEqual({ ...addr.request.initialResourceVersions }, { a: "v2" });
    assert.deepEqual({ ...authz.request.initialResourceVersions }, { "ns/p": "9" });
    assert.ok(addr.request.node?.id, "initial requests carry the node again");
    assert.deepEqual([...(addr.request.resourceNamesSubscribe ?? [])], []);
    assert.equal(addr.headers.authorization, "Bearer token-after");
    await until(() => h.client.connected, "reconnected");
    // The new stream works as before.
    const ack = await f.waitForReply(f.push(ADDRESS_TYPE_URL, [wl("c", "10.0.0.4", "v1")]));
    assert.equal(ack.stream, 2);
    assert.ok(h.addresses.has("c"));
  } finally {
    await h.close();
    await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backoff: doubles while istiod is down, 10 ms after a benign close, resets after a response", async () => {
  const f = await FakeIstiod.start();
  await f.kill(); // the port is known but nothing listens
  const delays: number[] = [];
  const reasons: TerminationReason[] = [];
  const messages: [string, number][] = [];
  const h = startClient(f, {
    extra: {
      sleep: (ms, signal) => {
        delays.push(ms);
        return new Promise((resolve) => {
          const t = setTimeout(resolve, Math.min(ms, 20));
          signal.addEventListener("abort", () => {
            clearTimeout(t);
            resolve();
          });
        });
      },
      metrics: {
        connectionTerminated: (r) => reasons.push(r),
        message: (t, bytes) => messages.push([t, bytes]),
      },
    },
  });
  try {
    await until(() => delays.length >= 5, "five failed attempts");
    assert.deepEqual(delays.slice(0, 5), [20, 40, 80, 160, 320]);
    assert.ok(reasons.every((r) => r === "ConnectionError"), reasons.join());

    await f.restart();
    await f.waitFor(() => (f.requests.length >= 2 ? true : undefined));
    await f.waitForReply(f.push(ADDRESS_TYPE_URL, [wl("a", "10.0.0.1", "v1")]));
    assert.equal(messages.length, 1);
    assert.equal(messages[0][0], ADDRESS_TYPE_URL);
    assert.ok(messages[0][1] > 20, "bytes of the response");

    // istiod's MaxConnectionAge: benign, reconnect at once.
    let mark = delays.length;
    const streams = f.streamCount;
    f.endStreams(status.UNAVAILABLE, "transport is closing");
    await until(() => delays.length > mark, "benign close");
    assert.equal(delays[mark], 10);
    assert.equal(reasons.at(-1), "Reconnect");
    await f.waitFor(() => (f.streamCount > streams && f.activeStreams === 1 ? true : undefined));

    // A real error after a successful response starts the doubling from 10 ms again.
    mark = delays.length;
    f.endStreams(status.PERMISSION_DENIED, "unauthorized");
    await until(() => delays.length > mark, "error close");
    assert.equal(delays[mark], 20);
    assert.equal(reasons.at(-1), "Error");
    assert.ok(h.logs.some((l) => l.includes("XDS client error") && l.includes("unauthorized")));
  } finally {
    await h.close();
    await f.close();
  }
});

Deno.test("close() stops the client: no more streams, not connected", async () => {
  const f = await FakeIstiod.start();
  const h = startClient(f);
  try {
    await until(() => h.client.connected, "connected");
    await h.close();
    assert.equal(h.client.connected, false);
    const streams = f.streamCount;
    await f.waitFor(() => (f.activeStreams === 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(f.streamCount, streams);
  } finally {
    await f.close();
  }
});
