/**
 * The DNS proxy's bench (`deno run -A bench/dns.ts`, or scenario `dns` of `deno task bench`):
 *
 * 1. codec: decode a query (dig's A query with EDNS and a cookie) and encode the answer, per query, with
 *    zt's codec and with the two npm candidates (dns-packet 5.6.1, @leichtgewicht/dns-packet 6.0.3);
 * 2. qps: queries per second and latency from a closed-loop UDP client (BENCH_DNS_CONCURRENCY queries
 *    in flight) against a real zt node: a mesh name answered locally, a name forwarded upstream, and the
 *    baseline of asking the same upstream directly, in the same run. The upstream is tests/fakes'
 *    dns-packet server (tests/fakes/dns_upstream.ts) in its own process.
 *
 * Prints a Markdown table and one JSON line (`BENCH_DNS_JSON=path` also writes it). BENCH_QUICK=1: short.
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import * as ldp from "@leichtgewicht/dns-packet";
import { decodeMessage } from "../lib/dns/dns_decoder.ts";
import { encodeMessage } from "../lib/dns/dns_encoder.ts";
import { resolvedResponse, udpLimit } from "../lib/dns/dns_response.ts";
import { RClass, RType } from "../lib/dns/dns_types.ts";
import { startNode, writeMeshFiles } from "../tests/fakes/zt_node.ts";
import { buildQuery } from "../tests/fakes/dns_client.ts";

const NODE = { name: "node-a", ip: "127.53.40.1" };
const POD = "127.53.41.1";
const UPSTREAM = "127.53.49.1";
const UPSTREAM_PORT = 15353;
const QUICK = Deno.env.get("BENCH_QUICK") === "1";
const SECONDS = Number(Deno.env.get("BENCH_DNS_SECONDS") ?? (QUICK ? 2 : 5));
const CONCURRENCY = Number(Deno.env.get("BENCH_DNS_CONCURRENCY") ?? 16);
// dig's query for web.example.test A, EDNS 1232 and a cookie (tests/dns/fixtures/dns_packets.json)
const QUERY = new Uint8Array(Buffer.from(
  "ae0d0120000100000000000103776562076578616d706c650474657374000001000100002904d000000000000c000a0008997f862a087a8161",
  "hex",
));

interface Lib {
  decode(b: Uint8Array): { id?: number; flags?: number; questions?: unknown[] };
  encode(p: unknown): Uint8Array;
}

function codecOps(): Record<string, () => number> {
  const zt = () => {
    const req = decodeMessage(QUERY);
    const q = req.questions[0];
    const r = resolvedResponse(req, {
      source: "local",
      answer: { kind: "local", result: "success", service: "", recordName: q.name, addresses: ["10.1.2.3"] },
      records: [{
        name: q.name,
        type: RType.A,
        class: RClass.IN,
        ttl: 30,
        data: new Uint8Array([10, 1, 2, 3]),
      }],
    });
    return encodeMessage(r, udpLimit(req)).bytes.length;
  };
  const lib = (l: Lib) => () => {
    const req = l.decode(Buffer.from(QUERY));
    const q = req.questions![0] as { name: string };
    return l.encode({
      type: "response",
      id: req.id,
      flags: 0x0400 | 0x0100 | 0x0080,
      questions: req.questions,
      answers: [{ name: q.name, type: "A", ttl: 30, data: "10.1.2.3" }],
      additionals: [{ name: ".", type: "OPT", udpPayloadSize: 1232 }],
    }).length;
  };
  return {
    zt: zt,
    "dns-packet 5.6.1": lib(dnsPacket as unknown as Lib),
    "@leichtgewicht/dns-packet 6.0.3": lib(ldp as unknown as Lib),
  };
}

/** ns per decode+encode: the median of 5 rounds of `n` after a warm-up. */
function timeCodec(fn: () => number, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink += fn();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sink += fn();
    rounds.push(((performance.now() - t0) * 1e6) / n);
  }
  if (sink < 0) console.log(sink);
  return rounds.sort((a, b) => a - b)[2];
}

interface LoadResult {
  qps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Closed loop: `concurrency` sockets, each sending its next query when the answer arrives. */
async function load(
  ip: string,
  port: number,
  name: string,
  seconds: number,
  concurrency: number,
): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, c) => {
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    let id = c * 4096;
    while (performance.now() < end) {
      id = (id + 1) & 0xffff;
      const q = buildQuery(name, { id, edns: 1232 });
      const t0 = performance.now();
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          sock.removeAllListeners("message");
          resolve(false);
        }, 2000);
        sock.on("message", (m: Uint8Array) => {
          if (((m[0] << 8) | m[1]) !== id) return;
          clearTimeout(timer);
          sock.removeAllListeners("message");
          resolve((m[3] & 0xf) === 0);
        });
        sock.send(q, port, ip);
      });
      if (ok) lat.push(performance.now() - t0);
      else errors++;
    }
    sock.close();
  }));
  lat.sort((a, b) => a - b);
  const pct = (p: number) =>
    Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN).toFixed(3));
  return { qps: Math.round(lat.length / seconds), p50Ms: pct(0.5), p99Ms: pct(0.99), errors };
}

async function main(): Promise<void> {
  const log = (m: string) => console.error(`[bench dns] ${m}`);
  const codec: Record<string, number> = {};
  for (const [name, fn] of Object.entries(codecOps())) {
    codec[name] = Number(timeCodec(fn, QUICK ? 20_000 : 200_000).toFixed(0));
  }
  log(`codec ns per decode+encode: ${JSON.stringify(codec)}`);

  const up = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../tests/fakes/dns_upstream.ts", import.meta.url).pathname,
      UPSTREAM,
      String(UPSTREAM_PORT),
      JSON.stringify({ "example.org": { A: ["93.184.0.1"] } }),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = up.stdout.getReader();
  await reader.read();
  const dir = await Deno.makeTempDir({ prefix: "zt-bench-dns-" });
  const mesh = {
    workloads: [{
      name: "client",
      namespace: "bench",
      serviceAccount: "client",
      workloadIps: [POD],
      protocol: "HBONE",
      node: NODE.name,
    }],
    services: [{
      name: "web",
      namespace: "bench",
      hostname: "web.bench.svc.cluster.local",
      vips: ["/10.96.40.1"],
      ports: { 80: 80 },
    }],
  };
  const { caDir, configPath } = await writeMeshFiles(dir, mesh);
  const node = await startNode({
    ...NODE,
    caDir,
    configPath,
    env: { ZT_DNS_UPSTREAMS: `${UPSTREAM}:${UPSTREAM_PORT}` },
  });
  const qps: Record<string, LoadResult> = {};
  try {
    const targets: [string, string, number, string][] = [
      ["upstream directly (baseline)", UPSTREAM, UPSTREAM_PORT, "example.org"],
      ["zt, mesh name (answered locally)", POD, 15053, "web.bench.svc.cluster.local"],
      ["zt, forwarded upstream", POD, 15053, "example.org"],
    ];
    for (const [label, ip, port, name] of targets) {
      await load(ip, port, name, 0.5, CONCURRENCY); // warm-up
      qps[label] = await load(ip, port, name, SECONDS, CONCURRENCY);
      log(`${label}: ${JSON.stringify(qps[label])}`);
    }
  } finally {
    await node.stop();
    up.kill();
    await up.status;
    await Deno.remove(dir, { recursive: true });
  }
  const lines = [
    `| codec (decode query + encode answer) | ns per query |`,
    `| --- | ---: |`,
    ...Object.entries(codec).map(([k, v]) => `| ${k} | ${v} |`),
    "",
    `| UDP, ${CONCURRENCY} in flight, ${SECONDS} s | queries/s | p50 ms | p99 ms | errors |`,
    `| --- | ---: | ---: | ---: | ---: |`,
    ...Object.entries(qps).map(([k, r]) => `| ${k} | ${r.qps} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} |`),
  ];
  console.log(lines.join("\n"));
  const json = JSON.stringify({ codecNsPerQuery: codec, qps, seconds: SECONDS, concurrency: CONCURRENCY });
  console.log(json);
  const out = Deno.env.get("BENCH_DNS_JSON");
  if (out) await Deno.writeTextFile(out, json + "\n");
}

/** Runs this bench in its own process (scenario `dns` of bench/run.ts); its table goes to stdout. */
export async function dnsBenchInChild(jsonPath: string): Promise<boolean> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname],
    env: { BENCH_DNS_JSON: jsonPath },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return out.success;
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}
