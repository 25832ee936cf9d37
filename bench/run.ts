/**
 * `deno task bench`: issue 7's benchmark. Builds the C load generator, starts the sink on the
 * server pod's IP, then for each run (3 by default) starts each setup (direct, stunnel, ztunnel
 * when ZTUNNEL_BIN names it, zt, zt-netns, zt-openssl, zt-capture) fresh, runs every scenario against
 * it and stops it, so runs of different setups interleave. Writes bench/results/latest.{md,svg,json}. Progress goes to stderr.
 * Knobs: see bench/settings.ts (BENCH_QUICK=1 for a smoke run). Process logs: bench/build/logs/.
 */
import { buildLg } from "./build_lg.ts";
import { configCostsInChild } from "./config_costs.ts";
import { DIRECT } from "./direct.ts";
import { startSink } from "./lg_client.ts";
import { loadAverage, machineInfo } from "./machine.ts";
import { stopAll } from "./process.ts";
import { Results } from "./results.ts";
import { loadSettings } from "./settings.ts";
import type { SetupDef } from "./setup.ts";
import { log, runSetup } from "./setup_run.ts";
import { STUNNEL, stunnelVersion } from "./stunnel.ts";
import { writeReports } from "./write_reports.ts";
import { SERVER_POD_IP, ZT, ZT_OPENSSL } from "./zt_nodes.ts";
import { ZT_CAPTURE } from "./zt_capture.ts";
import { dnsBenchInChild } from "./dns.ts";
import { ZT_NETNS, ZTUNNEL } from "./ztunnel.ts";

const BENCH = new URL(".", import.meta.url).pathname;
const RESULTS_DIR = `${BENCH}results`;
const LOG_DIR = `${BENCH}build/logs`;
/** The sink listens on the server pod's IP, so every setup reaches the same address. */
const SINK = `${SERVER_POD_IP}:19000`;
const ALL_SETUPS: SetupDef[] = [DIRECT, STUNNEL, ZTUNNEL, ZT, ZT_NETNS, ZT_OPENSSL, ZT_CAPTURE];

async function main(): Promise<number> {
  const startedAt = performance.now();
  // Scenario `dns` is bench/dns.ts in its own process (results/dns.json), taken out of the list here.
  const env = Deno.env.toObject();
  const asked = env.BENCH_SCENARIOS?.split(",").map((x) => x.trim()).filter(Boolean);
  const dns = !asked || asked.includes("dns");
  if (asked) env.BENCH_SCENARIOS = asked.filter((x) => x !== "dns").join(",");
  if (asked?.length === 1 && dns) return (await dnsBenchInChild(`${RESULTS_DIR}/dns.json`)) ? 0 : 1;
  const s = loadSettings(env);
  const defs = ALL_SETUPS.filter((d) => !s.setups || s.setups.includes(d.name));
  if (!defs.length) {
    throw new Error(`BENCH_SETUPS matches none of ${ALL_SETUPS.map((d) => d.name).join(", ")}`);
  }
  const machine = await machineInfo();
  const results = new Results(s.runs);
  results.setups = defs.map((d) => ({ name: d.name, description: d.description }));
  const tmp = await Deno.makeTempDir({ dir: "/tmp", prefix: "zt-bench-" });
  try {
    Deno.removeSync(LOG_DIR, { recursive: true });
  } catch { /* first run */ }
  Deno.mkdirSync(LOG_DIR, { recursive: true });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await stopAll();
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch { /* already gone */ }
  };
  const onSignal = () => {
    log("interrupted: stopping every process the bench started");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  log(
    `${s.quick ? "BENCH_QUICK smoke run" : "full run"}: ${s.runs} runs of ${
      defs.map((d) => d.name).join(", ")
    }; ` +
      `scenarios ${s.scenarios.join(", ")}`,
  );
  let finished = false;
  try {
    const lg = await buildLg();
    await startSink(lg, SINK, `${LOG_DIR}/sink.log`);
    const ctx = { lg, sink: SINK, tmp, logDir: LOG_DIR };
    for (let run = 1; run <= s.runs; run++) {
      for (const def of defs) {
        if (!results.notRun[def.name]) await runSetup(def, run, ctx, s, results);
      }
    }
    if (s.scenarios.includes("config")) {
      for (let run = 1; run <= s.runs; run++) {
        log(`run ${run}/${s.runs}: config costs`);
        const c = await configCostsInChild();
        results.config.push(c);
        log(`config: ${JSON.stringify(c)}`);
      }
    }
    if (dns) {
      log("dns: bench/dns.ts");
      if (!(await dnsBenchInChild(`${RESULTS_DIR}/dns.json`))) log("dns: the DNS bench failed (see above)");
    }
    finished = true;
  } finally {
    await cleanup();
    if (results.records.length || results.config.length) {
      machine.loadEnd = await loadAverage();
      const files = writeReports(RESULTS_DIR, {
        machine,
        settings: s,
        stunnelVersion: await stunnelVersion(),
        elapsedS: (performance.now() - startedAt) / 1000,
        interrupted: finished ? undefined : "the run stopped early (see stderr)",
        results,
      });
      log(`wrote ${files.join(", ")}`);
    }
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  log(`done in ${Math.round((performance.now() - startedAt) / 1000)} s`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`[bench] error: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
