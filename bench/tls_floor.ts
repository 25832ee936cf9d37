/**
 * The platform floor under zt's data path: two relay processes joined by node:tls mutual TLS 1.3 (the
 * same TLS options and the same Deno.Conn copy loops as zt) but no HTTP/2, no routing, no policy.
 * If zt's figures match this floor, the gap to stunnel is Deno's node:tls, not zt's code. It also prints
 * each relay's RSS after one short exchange: the memory floor of a Deno process running node:tls.
 *
 *   deno run -A bench/tls_floor.ts            runs lg → relay A → TLS → relay B → sink, 3 × 1 GiB
 *   deno run -A bench/tls_floor.ts relay a|b  (internal: one relay process)
 */
import tls from "node:tls";
import { initCaDir } from "../lib/identity/ca_init.ts";
import { BuiltinCa } from "../lib/identity/builtin_ca.ts";
import { tlsOptions } from "../lib/tunnel/tls.ts";
import { buildLg } from "./build_lg.ts";
import { runLg, startSink } from "./lg_client.ts";
import { cpuSeconds, rssKiB } from "./proc_stats.ts";
import { ZT_V8_FLAGS } from "../lib/cli/node_process.ts";

const A_PORT = 19811;
const B_PORT = 19812;
const SINK = "127.0.0.1:19813";

async function pumpConnToTls(c: Deno.Conn, s: tls.TLSSocket): Promise<void> {
  let size = 256;
  for (;;) {
    const b = new Uint8Array(size);
    const n = await c.read(b);
    if (n === null) break;
    if (!s.write(b.subarray(0, n))) await new Promise((r) => s.once("drain", r));
    if (n === size && size < 262144) size *= 4;
  }
  s.end();
}

function pumpTlsToConn(s: tls.TLSSocket, c: Deno.Conn): void {
  let q = Promise.resolve();
  s.on("data", (d: Uint8Array) => {
    s.pause();
    q = q.then(async () => {
      let o = 0;
      while (o < d.length) o += await c.write(d.subarray(o));
      s.resume();
    });
  });
  s.on("end", () => q.then(() => c.closeWrite()).catch(() => {}));
}

async function relay(side: string, caDir: string): Promise<void> {
  const ca = await BuiltinCa.load(caDir);
  const cert = await ca.sign(
    { trustDomain: "cluster.local", namespace: "bench", serviceAccount: side },
    3600_000,
  );
  if (side === "a") {
    for await (const c of Deno.listen({ hostname: "127.0.0.1", port: A_PORT })) {
      c.setNoDelay(true);
      const s = tls.connect({
        ...tlsOptions(cert),
        host: "127.0.0.1",
        port: B_PORT,
        checkServerIdentity: () => undefined,
      });
      s.once("secureConnect", () => {
        s.setNoDelay(true);
        pumpConnToTls(c, s);
        pumpTlsToConn(s, c);
      });
    }
  } else {
    const [host, port] = SINK.split(":");
    tls.createServer({ ...tlsOptions(cert), requestCert: true, rejectUnauthorized: true }, async (s) => {
      s.setNoDelay(true);
      const c = await Deno.connect({ hostname: host, port: Number(port) });
      c.setNoDelay(true);
      pumpConnToTls(c, s);
      pumpTlsToConn(s, c);
    }).listen(B_PORT, "127.0.0.1");
    console.log("listening");
  }
}

async function main(): Promise<void> {
  const lg = await buildLg();
  const dir = await Deno.makeTempDir({ prefix: "zt-tls-floor-" });
  await initCaDir(`${dir}/ca`);
  const sink = await startSink(lg, SINK);
  const self = new URL(import.meta.url).pathname;
  const relays = ["b", "a"].map((side) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ZT_V8_FLAGS, self, "relay", side, `${dir}/ca`],
      stdout: "null",
    }).spawn()
  );
  try {
    await new Promise((r) => setTimeout(r, 1500));
    // The RSS floor: each relay after one short tunnelled exchange, measured as the bench measures zt.
    await runLg(
      lg,
      "pingpong",
      { target: `127.0.0.1:${A_PORT}` },
      ["--seconds", "0.2", "--warmup", "0"],
      20000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    console.log(JSON.stringify({ idleRssMiB: relays.map((p) => +(rssKiB(p.pid) / 1024).toFixed(1)) }));
    for (let i = 0; i < 3; i++) {
      const cpu0 = relays.reduce((s, p) => s + cpuSeconds(p.pid), 0);
      const r = await runLg(lg, "tput", { target: `127.0.0.1:${A_PORT}` }, [
        "--conns",
        "1",
        "--bytes",
        String(1 << 30),
      ], 120_000);
      const cpu = relays.reduce((s, p) => s + cpuSeconds(p.pid), 0) - cpu0;
      console.log(
        JSON.stringify({ run: i + 1, mbps: r.mbps, cpuSecondsPerGB: +(cpu / (r.bytes / 1e9)).toFixed(2) }),
      );
    }
  } finally {
    for (const p of relays) p.kill("SIGKILL");
    await Promise.all(relays.map((p) => p.status));
    await sink.proc.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "relay") await relay(Deno.args[1], Deno.args[2]);
  else await main();
}
