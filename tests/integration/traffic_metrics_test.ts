/**
 * Istio's TCP metrics on real nodes: a client pod on node A reaches a service whose endpoint is on
 * node B (HBONE). The two directions carry different, known byte counts, and both nodes' counters
 * (source reporter on A, destination reporter on B) move by exactly those counts, with Istio's
 * labels. Every scrape is read with a real Prometheus text parser.
 */
import assert from "node:assert/strict";
import { type CountServer, sendAndCount, startCountServer } from "../fakes/count_server.ts";
import { socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod, pattern, spiffeOf, TEST_NAMESPACE } from "../fakes/mesh_config.ts";
import { type Scrape, scrape } from "../fakes/prometheus_scrape.ts";

const A = { name: "metrics-a", ip: "127.40.1.1" };
const B = { name: "metrics-b", ip: "127.40.1.2" };
const CLIENT = { name: "client-1", ip: "127.40.1.11", node: A.name, extra: { canonicalRevision: "v1" } };
const SERVER = { name: "server-1", ip: "127.40.1.12", node: B.name };
const VIP = "10.96.40.1";
const HOST = `sink.${TEST_NAMESPACE}.svc.cluster.local`;
const REPLY = 54_321;

function mesh() {
  const server = { ...SERVER, extra: { services: { [`${TEST_NAMESPACE}/${HOST}`]: { 80: 7070 } } } };
  return {
    workloads: [meshPod(CLIENT), meshPod(server)],
    services: [{
      name: "sink",
      namespace: TEST_NAMESPACE,
      hostname: HOST,
      vips: [`/${VIP}`],
      ports: { 80: 7070 },
    }],
  };
}

const BYTES = ["istio_tcp_received_bytes_total", "istio_tcp_sent_bytes_total"] as const;
const CONNS = ["istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total"] as const;
const ALL = [...BYTES, ...CONNS];

/** The labels both reporters must carry for this connection. */
function expectedLabels(reporter: "source" | "destination"): Record<string, string> {
  return {
    reporter,
    source_workload: "client-1",
    source_workload_namespace: TEST_NAMESPACE,
    source_principal: spiffeOf(CLIENT),
    source_canonical_revision: "v1",
    destination_workload: "server-1",
    destination_workload_namespace: TEST_NAMESPACE,
    destination_principal: spiffeOf(SERVER),
    request_protocol: "tcp",
    response_flags: "-",
    connection_security_policy: "mutual_tls",
  };
}

function totals(s: Scrape, reporter: "source" | "destination"): Record<string, number> {
  return Object.fromEntries(ALL.map((n) => [n, s.sum(n, expectedLabels(reporter))]));
}

/** Scrapes until `pred` holds: counters are final once both nodes closed the connection. */
async function scrapeUntil(ip: string, pred: (s: Scrape) => boolean): Promise<Scrape> {
  let last: Scrape | undefined;
  for (let i = 0; i < 100; i++) {
    last = await scrape(ip);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last!;
}

Deno.test("metrics: istio_tcp_* move by the exact bytes both sides saw, on both nodes", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "zt-metrics-" });
  const { caDir, configPath } = await writeMeshFiles(dir, mesh());
  const server: CountServer = startCountServer(SERVER.ip, 7070, REPLY);
  const nodes: NodeProcess[] = [];
  try {
    nodes.push(...await Promise.all([A, B].map((n) => startNode({ ...n, caDir, configPath }))));
    const [a, b] = nodes;

    await t.step(
      "both /metrics parse with a Prometheus text parser and declare Istio's families",
      async () => {
        for (const n of nodes) {
          const s = await scrape(n.ip);
          for (
            const name of ["istio_tcp_received_bytes", "istio_tcp_sent_bytes", "istio_tcp_connections_opened"]
          ) {
            const f = s.families.find((f) => f.name === name || f.name === `${name}_total`);
            assert.ok(f, `${n.name} declares ${name}`);
            assert.equal(f.type, "COUNTER");
          }
          assert.equal(s.sum("istio_build", { component: "ztunnel" }), 1);
        }
      },
    );

    const runs: Array<{ sent: number; recv: number }> = [];
    for (const size of [100_003, 1_048_579]) {
      await t.step(`a ${size}-byte request and a ${REPLY}-byte reply are counted exactly`, async () => {
        const beforeA = totals(await scrape(a.ip), "source");
        const beforeB = totals(await scrape(b.ip), "destination");
        const { reply, conn } = await socks5Connect({ ip: CLIENT.ip, port: 15080 }, VIP, 80);
        assert.equal(reply, 0);
        const recv = await sendAndCount(conn, pattern(size, size));
        assert.equal(recv, REPLY, "the client got the whole reply");
        runs.push({ sent: size, recv });
        const done = (before: Record<string, number>, reporter: "source" | "destination") => (s: Scrape) =>
          totals(s, reporter)["istio_tcp_connections_closed_total"] ===
            before["istio_tcp_connections_closed_total"] + 1;
        const afterA = totals(await scrapeUntil(a.ip, done(beforeA, "source")), "source");
        const afterB = totals(await scrapeUntil(b.ip, done(beforeB, "destination")), "destination");
        assert.equal(server.received.at(-1), size, "the server got every byte the client sent");
        for (
          const [node, before, after] of [["A (source)", beforeA, afterA], [
            "B (destination)",
            beforeB,
            afterB,
          ]] as const
        ) {
          const delta = Object.fromEntries(ALL.map((n) => [n, after[n] - before[n]]));
          assert.deepEqual(delta, {
            // Istio's convention: request bytes (client → server) are "received", reply bytes "sent".
            istio_tcp_received_bytes_total: size,
            istio_tcp_sent_bytes_total: REPLY,
            istio_tcp_connections_opened_total: 1,
            istio_tcp_connections_closed_total: 1,
          }, `node ${node}`);
        }
      });
    }

    await t.step(
      "both reporters name the service (the destination guesses it, as ztunnel does)",
      async () => {
        const service = {
          destination_service: HOST,
          destination_service_name: "sink",
          destination_service_namespace: TEST_NAMESPACE,
        };
        const s = await scrape(a.ip);
        const [src] = s.samples("istio_tcp_received_bytes_total", {
          ...expectedLabels("source"),
          ...service,
        });
        assert.ok(src, "the source reporter's series names the service");
        assert.equal(
          Number(src.value),
          runs.reduce((x, r) => x + r.sent, 0),
          "totals add up over connections",
        );
        const d = await scrape(b.ip);
        const [dst] = d.samples("istio_tcp_sent_bytes_total", {
          ...expectedLabels("destination"),
          ...service,
        });
        assert.ok(dst, "the destination reporter's series names the service");
        assert.equal(Number(dst.value), runs.reduce((x, r) => x + r.recv, 0));
        assert.equal(
          d.samples("istio_tcp_received_bytes_total", { reporter: "source" }).length,
          0,
          "B only reports as destination",
        );
      },
    );
  } finally {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await server.close();
    await Deno.remove(dir, { recursive: true });
    assert.deepEqual(codes, [0, 0]);
  }
});
