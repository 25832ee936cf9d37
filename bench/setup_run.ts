/** One run of one setup: start it, run every selected scenario against it, stop it. */
import type { Results } from "./results.ts";
import { idleConns, idleRss } from "./scenario_memory.ts";
import { connrate, latency, pingpong, type ScenarioOutput, tput } from "./scenario_traffic.ts";
import type { ScenarioId, Settings } from "./settings.ts";
import { NotRun, type Setup, type SetupContext, type SetupDef } from "./setup.ts";

const T0 = performance.now();

export function log(msg: string) {
  const s = Math.round((performance.now() - T0) / 1000);
  const clock = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  console.error(`[bench ${clock}] ${msg}`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A process failure, cut to a readable length (the tail of its log can be long). */
export function short(msg: string, max = 400): string {
  return msg.length > max ? `${msg.slice(0, max)}…` : msg;
}

function summary(values: Record<string, number>): string {
  return Object.entries(values).map(([k, v]) => `${k.split(".").slice(1).join(".")}=${+v.toFixed(2)}`).join(
    " ",
  );
}

interface Step {
  id: ScenarioId;
  name: string;
  run: (setup: Setup) => Promise<ScenarioOutput>;
}

/** Steps that share one start of the setup. Memory sessions need proxies (skipped for `direct`). */
interface Session {
  name: string;
  proxyOnly: boolean;
  steps: Step[];
}

/**
 * Each memory level gets freshly started proxies, so the RSS "before" is not inflated (or, for V8,
 * deflated by a collection) by earlier traffic; the traffic scenarios share a third start.
 */
function sessions(ctx: SetupContext, s: Settings): Session[] {
  const lg = ctx.lg;
  const memory = s.idleCounts.map((n, i): Session => ({
    name: `memory ${n}`,
    proxyOnly: true,
    steps: [
      ...(i === 0 ? [{ id: "idle_rss" as const, name: "idle_rss", run: (st: Setup) => idleRss(st, s) }] : []),
      {
        id: "idle_conns",
        name: `idle${n}`,
        run: (st) => idleConns(lg, st, s, n, `${ctx.logDir}/lg-idle.log`),
      },
    ],
  }));
  const traffic: Session = {
    name: "traffic",
    proxyOnly: false,
    steps: [
      { id: "pingpong", name: "pingpong", run: (st) => pingpong(lg, st, s) },
      { id: "latency", name: "latency", run: (st) => latency(lg, st, s) },
      { id: "tput1", name: "tput1", run: (st) => tput(lg, st, s, 1, s.tputBytes, "tput1") },
      { id: "tput8", name: "tput8", run: (st) => tput(lg, st, s, 8, s.tput8Bytes, "tput8") },
      { id: "connrate1", name: "connrate1", run: (st) => connrate(lg, st, s, 1) },
      { id: "connrate8", name: "connrate8", run: (st) => connrate(lg, st, s, 8) },
    ],
  };
  return [...memory, traffic]
    .map((x) => ({ ...x, steps: x.steps.filter((st) => s.scenarios.includes(st.id)) }))
    .filter((x) => x.steps.length);
}

/** Starts the setup; undefined (with the reason recorded) when it cannot. */
async function startSetup(def: SetupDef, run: number, ctx: SetupContext, results: Results, session: string) {
  const t0 = performance.now();
  try {
    const setup = await def.start(ctx);
    log(
      `run ${run} ${def.name} up for ${session} in ${((performance.now() - t0) / 1000).toFixed(1)} s` +
        (setup.proxies.length ? ` (${setup.proxies.map((p) => `${p.label} pid ${p.pid}`).join(", ")})` : ""),
    );
    return setup;
  } catch (e) {
    const ranBefore = results.records.some((r) => r.setup === def.name && !r.error);
    if (e instanceof NotRun && !ranBefore) {
      results.notRun[def.name] = e.message;
      log(`${def.name}: not run: ${e.message}`);
    } else {
      results.add({
        run,
        setup: def.name,
        scenario: `start (${session})`,
        values: {},
        error: errorText(e),
        seconds: 0,
      });
      log(`run ${run} ${def.name}: failed to start for ${session}: ${errorText(e)}`);
    }
    return undefined;
  }
}

async function runStep(setup: Setup, step: Step, run: number, results: Results) {
  const broken = setup.failure();
  if (broken) {
    results.add({
      run,
      setup: setup.name,
      scenario: step.name,
      values: {},
      error: short(broken),
      seconds: 0,
    });
    log(`run ${run} ${setup.name} ${step.name}: skipped, ${short(broken)}`);
    return;
  }
  const t = performance.now();
  try {
    const out = await step.run(setup);
    const seconds = (performance.now() - t) / 1000;
    results.add({ run, setup: setup.name, scenario: step.name, ...out, seconds });
    log(
      `run ${run} ${setup.name} ${step.name}: ${summary(out.values)} (${seconds.toFixed(1)} s)` +
        (out.warning ? ` WARNING: ${out.warning}` : ""),
    );
  } catch (e) {
    const seconds = (performance.now() - t) / 1000;
    results.add({ run, setup: setup.name, scenario: step.name, values: {}, error: errorText(e), seconds });
    log(`run ${run} ${setup.name} ${step.name}: FAILED: ${errorText(e)}`);
  }
}

/** Steps left in a session survive one proxy crash: the setup is restarted once and they go on. */
const RESTARTS_PER_SESSION = 1;

export async function runSetup(def: SetupDef, run: number, ctx: SetupContext, s: Settings, results: Results) {
  let hasProxies: boolean | undefined;
  for (const session of sessions(ctx, s)) {
    if (results.notRun[def.name] || (session.proxyOnly && hasProxies === false)) continue;
    let setup = await startSetup(def, run, ctx, results, session.name);
    if (!setup) continue;
    hasProxies = setup.proxies.length > 0;
    if (session.proxyOnly && !hasProxies) {
      await setup.stop();
      continue;
    }
    let restarts = 0;
    try {
      for (const step of session.steps) {
        const broken = setup?.failure();
        if (setup && broken && restarts++ < RESTARTS_PER_SESSION) {
          log(`run ${run} ${def.name}: ${short(broken)}; restarting it for the rest of ${session.name}`);
          results.add({
            run,
            setup: def.name,
            scenario: `${session.name} (restart)`,
            values: {},
            seconds: 0,
            warning: `restarted after: ${short(broken)}`,
          });
          await setup.stop();
          setup = await startSetup(def, run, ctx, results, session.name);
        }
        if (!setup) {
          results.add({
            run,
            setup: def.name,
            scenario: step.name,
            values: {},
            error: "setup not running",
            seconds: 0,
          });
          continue;
        }
        await runStep(setup, step, run, results);
      }
    } finally {
      await setup?.stop();
    }
  }
}
