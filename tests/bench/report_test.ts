/** The bench's bookkeeping and reports, on made-up results (no processes). */
import assert from "node:assert/strict";
import { median, Results } from "../../bench/results.ts";
import { loadSettings } from "../../bench/settings.ts";
import { evaluateTargets } from "../../bench/targets.ts";
import { renderMarkdown } from "../../bench/report_md.ts";
import { renderSvg } from "../../bench/report_svg.ts";
import type { Machine } from "../../bench/machine.ts";

const settings = loadSettings({});

function sample(): Results {
  const r = new Results(3);
  r.setups = [
    { name: "direct", description: "d" },
    { name: "stunnel", description: "s" },
    { name: "ztunnel", description: "Istio's ztunnel" },
    { name: "zt", description: "z" },
    { name: "zt-capture", description: "c" },
  ];
  r.notRun["zt-capture"] = "capture not implemented";
  const put = (setup: string, values: Record<string, number[]>) => {
    for (let run = 1; run <= 3; run++) {
      const v = Object.fromEntries(Object.entries(values).map(([k, xs]) => [k, xs[run - 1]]));
      r.add({ run, setup, scenario: "x", values: v, seconds: 1 });
    }
  };
  put("direct", { "tput1.mbps": [3000, 3500, 3400], "pingpong.rtt_us": [40, 40, 40] });
  put("stunnel", {
    "tput1.mbps": [600, 650, 620],
    "pingpong.rtt_us": [90, 100, 80],
    "connrate1.conn_per_s": [600, 600, 600],
    "mem.idle_mib.1": [10, 10, 10],
    "mem.idle_mib.2": [11, 11, 11],
  });
  put("ztunnel", {
    "tput1.mbps": [800, 760, 840],
    "pingpong.rtt_us": [70, 60, 80],
    "connrate1.conn_per_s": [1000, 1000, 1000],
    "mem.idle_mib.1": [16, 17, 16],
    "mem.idle_mib.2": [16, 16, 16],
  });
  put("zt", {
    "tput1.mbps": [400, 380, 420],
    "pingpong.rtt_us": [120, 110, 130],
    "connrate1.conn_per_s": [2000, 1900, 2100],
    "mem.idle_mib.1": [80, 82, 81],
    "mem.idle_mib.2": [55, 55, 55],
    "mem.kib_per_conn_10000.1": [8, 9, 8],
    "mem.kib_per_conn_10000.2": [9, 9, 9],
  });
  r.deriveAddedRtt();
  return r;
}

const machine: Machine = {
  cores: "2",
  cpu: "test cpu",
  memory: "1 GiB",
  kernel: "6.0",
  deno: "2.9.6",
  v8: "x",
  openssl: "OpenSSL 3",
  date: "2026-01-01T00:00:00Z",
  loadStart: "0.1",
  loadEnd: "0.2",
};

Deno.test("median: odd, even, empty, non-finite dropped", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), undefined);
  assert.equal(median([NaN, 5]), 5);
});

Deno.test("Results: per-run values, medians, added RTT against direct in the same run", () => {
  const r = sample();
  assert.deepEqual(r.perRun("zt", "tput1.mbps"), [400, 380, 420]);
  assert.equal(r.median("stunnel", "tput1.mbps"), 620);
  assert.deepEqual(r.perRun("stunnel", "pingpong.added_us"), [50, 60, 40]);
  assert.equal(r.median("zt", "pingpong.added_us"), 80);
  assert.equal(r.median("direct", "pingpong.added_us"), undefined);
});

Deno.test("targets: relative to stunnel and absolute per node", () => {
  const t = Object.fromEntries(evaluateTargets(sample(), settings).map((x) => [x.name, x]));
  assert.equal(t["single-connection throughput"].met, false);
  assert.ok(Math.abs(t["single-connection throughput"].ratio! - 400 / 620) < 1e-9);
  assert.equal(t["new connections/s, 1 client"].met, true); // 2000 ≥ 3 × 600
  assert.equal(t["added round-trip latency (vs direct)"].met, false); // 80 vs 50 µs
  assert.equal(t["idle RSS, per node"].value, 81); // the worse node
  assert.equal(t["idle RSS, per node"].met, false);
  assert.equal(t["RSS per idle tunnelled connection at 10000, per node"].met, true);
  assert.ok(t["latency point p99"].missing);
});

Deno.test("markdown: runs, median, ratios, not-run setups and targets", () => {
  const r = sample();
  const md = renderMarkdown({
    results: r,
    settings,
    machine,
    stunnelVersion: "stunnel 5.68",
    targets: evaluateTargets(r, settings),
    elapsedS: 1,
  });
  // Columns: runs, median, ÷ stunnel, ÷ ztunnel, ÷ direct.
  assert.match(
    md,
    /\| throughput \(MB\/s\) \| zt \| 400 \| 380 \| 420 \| \*\*400\*\* \| 0\.65× \| 0\.50× \| 0\.12× \|/,
  );
  assert.match(
    md,
    /\| throughput \(MB\/s\) \| stunnel \| 600 \| 650 \| 620 \| \*\*620\*\* \| 1\.00× \| 0\.78× \| 0\.18× \|/,
  );
  assert.match(
    md,
    /\| throughput \(MB\/s\) \| ztunnel \| 800 \| 760 \| 840 \| \*\*800\*\* \| 1\.29× \| 1\.00× \| 0\.24× \|/,
  );
  // Proxy-only figures have no direct ratio, but a ztunnel one (added RTT: zt 80 µs, ztunnel 30 µs).
  assert.match(
    md,
    /\| added RTT \(µs\) \| zt \| 80\.0 \| 70\.0 \| 90\.0 \| \*\*80\.0\*\* \| 1\.60× \| 2\.67× \| – \|/,
  );
  // Setups side by side in the order given: direct, stunnel, ztunnel, zt.
  const order = ["direct", "stunnel", "ztunnel", "zt"].map((n) => md.indexOf(`| throughput (MB/s) | ${n} |`));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  // Targets stay relative to stunnel; ztunnel's figure and zt ÷ ztunnel are shown next to them.
  assert.match(
    md,
    /\| single-connection throughput \| ≥ 1\.0× stunnel \| 400\.0 MB\/s \| 620\.0 MB\/s \| 0\.65× \| \*\*no\*\* \| 800\.0 MB\/s \| 0\.50× \|/,
  );
  assert.match(
    md,
    /\| idle RSS, per node \| ≤ 60 MiB \| 81\.0 MiB \| 11\.0 MiB \| 7\.36× \| \*\*no\*\* \| 16\.0 MiB \| 5\.06× \|/,
  );
  assert.match(md, /Not run: zt-capture \(capture not implemented\)/);
  assert.match(md, /\| 2 \| test cpu \|/);
  assert.match(md, /latest\.svg/);
});

Deno.test("svg: one well-formed document with a 1.0 line and the zt bars", () => {
  const svg = renderSvg(sample(), settings, "subtitle & more");
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /subtitle &amp; more/);
  assert.match(svg, />1×</);
  assert.match(svg, /0\.65× ✗/); // zt ÷ stunnel single-connection throughput, target missed
  assert.match(svg, />zt ÷ ztunnel</);
  assert.match(svg, />0\.50×</); // zt ÷ ztunnel single-connection throughput (no target marker)
  assert.doesNotMatch(svg, /NaN|undefined/);
});

Deno.test("markdown and svg without ztunnel: its ratios are '–', its setup 'not run: set ZTUNNEL_BIN'", () => {
  const r = sample();
  r.records = r.records.filter((x) => x.setup !== "ztunnel");
  r.notRun.ztunnel = "set ZTUNNEL_BIN to a ztunnel binary (istio/ztunnel's release build)";
  const md = renderMarkdown({
    results: r,
    settings,
    machine,
    stunnelVersion: "stunnel 5.68",
    targets: evaluateTargets(r, settings),
    elapsedS: 1,
  });
  assert.match(md, /\| ztunnel \| Istio's ztunnel \| not run: set ZTUNNEL_BIN to a ztunnel binary/);
  assert.match(
    md,
    /\| throughput \(MB\/s\) \| zt \| 400 \| 380 \| 420 \| \*\*400\*\* \| 0\.65× \| – \| 0\.12× \|/,
  );
  assert.doesNotMatch(md, /\| throughput \(MB\/s\) \| ztunnel \|/);
  assert.match(md, /\| single-connection throughput \|.*\| \*\*no\*\* \| – \| – \|/);
  const svg = renderSvg(r, settings, "s");
  assert.match(svg, />ztunnel not run</);
  assert.doesNotMatch(svg, /NaN|undefined/);
});

Deno.test("settings: defaults are the full spec; knobs are validated", () => {
  assert.equal(settings.runs, 3);
  assert.equal(settings.tputBytes, 1 << 30);
  assert.deepEqual(settings.idleCounts, [1000, 10000]);
  assert.equal(loadSettings({ BENCH_QUICK: "1" }).quick, true);
  assert.throws(() => loadSettings({ BENCH_RUNS: "0" }), /BENCH_RUNS/);
  assert.throws(() => loadSettings({ BENCH_SCENARIOS: "nope" }), /unknown scenario "nope"/);
});
