/** Memory scenarios: proxy RSS when idle, and with N idle tunnelled connections held open. */
import { IdleConns } from "./lg_client.ts";
import { rssKiB } from "./proc_stats.ts";
import { sleep } from "./process.ts";
import type { ScenarioOutput } from "./scenario_traffic.ts";
import type { Settings } from "./settings.ts";
import type { Setup } from "./setup.ts";

const MiB = 1024;

/** RSS of each proxy right after start (plus a settle pause), before any traffic. */
export async function idleRss(setup: Setup, s: Settings): Promise<ScenarioOutput> {
  await sleep(s.settleMs);
  const values: Record<string, number> = {};
  setup.proxies.forEach((p, i) => values[`mem.idle_mib.${i + 1}`] = rssKiB(p.pid) / MiB);
  return { values, raw: setup.proxies.map((p) => ({ proxy: p.label, rss_kib: rssKiB(p.pid) })) };
}

/** Opens n idle tunnelled connections, reads each proxy's RSS, checks they still work, closes them. */
export async function idleConns(
  lg: string,
  setup: Setup,
  s: Settings,
  n: number,
  logFile: string,
): Promise<ScenarioOutput> {
  await sleep(s.settleMs / 2);
  const before = setup.proxies.map((p) => rssKiB(p.pid));
  const held = await IdleConns.open(lg, setup.route, n, 60000 + n * 20, logFile);
  let after: number[], alive: number;
  try {
    await sleep(s.settleMs);
    after = setup.proxies.map((p) => rssKiB(p.pid));
    alive = await held.check();
  } finally {
    await held.close();
  }
  await sleep(s.settleMs / 2); // let the proxies tear the connections down
  const values: Record<string, number> = {};
  setup.proxies.forEach((_, i) => {
    values[`mem.rss_${n}_mib.${i + 1}`] = after[i] / MiB;
    if (held.opened > 0) values[`mem.kib_per_conn_${n}.${i + 1}`] = (after[i] - before[i]) / held.opened;
  });
  const problems = [];
  if (held.failed) problems.push(`${held.failed} of ${n} connections failed to open (first: ${held.error})`);
  if (alive < held.opened) {
    problems.push(`only ${alive} of ${held.opened} still echoed after the RSS reading`);
  }
  return {
    values,
    raw: {
      requested: n,
      opened: held.opened,
      failed: held.failed,
      alive,
      rss_before_kib: before,
      rss_kib: after,
    },
    warning: problems.join("; ") || undefined,
  };
}
