/**
 * Certificate rotation and the HBONE pool on two real nodes (the 2026-12-04 finding: SOCKS5 entry, each
 * rotation left the old pooled tunnel open until POOL_UNUSED_RELEASE_TIMEOUT). The fake istiod's CA
 * shortens leaves to 4 s, so sleep's certificate rotates about every 2 s while traffic flows: the
 * tunnels made with old certificates close once their streams end, a live connection on one of them
 * keeps every byte, and what stays pooled is the newest certificate's tunnel.
 */
import assert from "node:assert/strict";
import { startEchoServer } from "../fakes/echo_server.ts";
import { socks5Connect } from "../fakes/socks5_client.ts";
import { pattern, sameBytes } from "../fakes/mesh_config.ts";
import { signingCaHandler } from "../fakes/fake_istiod.ts";
import { podResource } from "../fakes/xds_resources.ts";
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  certificates,
  echoOnce,
  socksEcho,
  startXdsMesh,
  until,
} from "../fakes/xds_mesh.ts";

const A = { name: "rot-a", ip: "127.63.0.1" };
const B = { name: "rot-b", ip: "127.63.0.2" };
const NS = "rot";
const SLEEP = "127.63.1.1";
const ECHO = "127.63.2.2";
const SLEEP_ID = `spiffe://cluster.local/ns/${NS}/sa/sleep`;

/** Established client sockets to the echo pod's HBONE port (both ends live in this netns). */
async function tunnelsToEcho(): Promise<number> {
  const out = await new Deno.Command("ss", { args: ["-Htn", "state", "established", "dst", `${ECHO}:15008`] })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

Deno.test("rotation: tunnels of replaced certificates close once their streams end", async () => {
  const mesh = await startXdsMesh({
    caHandler: (p) => {
      const sign = signingCaHandler(p.ca);
      return (req, headers) => sign({ ...req, validityDuration: 4 }, headers);
    },
  });
  const echo = startEchoServer(ECHO, 7070);
  const nodes = await Promise.all([A, B].map((n) => mesh.startNode(n, { SECRET_TTL: "1h" })));
  const [nodeA] = nodes;
  try {
    await mesh.initialRequests(2);
    await mesh.push(ADDRESS_TYPE_URL, [
      podResource({ name: "sleep", namespace: NS, ip: SLEEP, node: A.name }),
      podResource({ name: "echo", namespace: NS, ip: ECHO, node: B.name }),
    ]);
    await mesh.push(AUTHORIZATION_TYPE_URL, []);
    await Promise.all(nodes.map((n) => n.ready(15_000)));

    const live = await socks5Connect({ ip: SLEEP, port: 15080 }, ECHO, 7070);
    assert.equal(live.reply, 0);
    assert.ok(sameBytes(await echoOnce(live.conn, pattern(1000, 1)), pattern(1000, 1)));
    const serial = async () =>
      (await certificates(nodeA)).find((c) => c.identity === SLEEP_ID)?.certChain[0]?.serialNumber;
    const serials = new Set([await serial()]);
    let seed = 2;
    // Short connections while sleep's certificate is replaced three times.
    await until(
      async () => {
        assert.equal(await socksEcho(SLEEP, ECHO, 7070, seed++), 0);
        serials.add(await serial());
        return serials.size >= 4;
      },
      "three rotations of sleep's certificate",
      15_000,
    );

    // The live connection's tunnel (an old certificate's) and the newest one's; no others linger.
    await until(async () => (await tunnelsToEcho()) <= 2, "old tunnels to close", 3_000);
    assert.ok(
      sameBytes(await echoOnce(live.conn, pattern(4000, 9)), pattern(4000, 9)),
      "live keeps its bytes",
    );
    live.conn.close();
    await until(
      async () => (await tunnelsToEcho()) === 1,
      "the live connection's old tunnel to close",
      3_000,
    );
    assert.equal(await socksEcho(SLEEP, ECHO, 7070, seed++), 0, "the pooled tunnel still serves");
    assert.equal(await tunnelsToEcho(), 1);
  } finally {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await echo.close();
    await mesh.close();
    assert.deepEqual(codes, [0, 0]);
  }
});
