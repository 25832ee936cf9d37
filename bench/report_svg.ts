/**
 * bench/results/latest.svg: per headline metric, bars for "zt ÷ stunnel", "zt ÷ ztunnel" (Istio's
 * ztunnel, when it ran) and "stunnel ÷ direct" on a log scale around a 1.0 line, with zt's target
 * (relative to stunnel) marked. Hand-written SVG, no dependencies.
 */
import type { Results } from "./results.ts";
import type { Settings } from "./settings.ts";

interface Row {
  label: string;
  better: "higher" | "lower";
  /** zt's target as a zt ÷ stunnel ratio, when relative */
  target?: number;
  zt?: number;
  stunnel?: number;
  ztunnel?: number;
  direct?: number;
  /** An absolute target, shown under the label */
  note?: string;
}

function worst(r: Results, setup: string, metric: string): number | undefined {
  const v = [1, 2].map((p) => r.median(setup, `${metric}.${p}`)).filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
}

function absolute(label: string, r: Results, metric: string, limit: number, unit: string): Row {
  const zt = worst(r, "zt", metric);
  const verdict = zt === undefined ? "" : `, zt ${zt.toFixed(1)} ${unit} ${zt <= limit ? "✓" : "✗"}`;
  return {
    label,
    better: "lower",
    zt,
    stunnel: worst(r, "stunnel", metric),
    ztunnel: worst(r, "ztunnel", metric),
    note: `target ≤ ${limit} ${unit}${verdict}`,
  };
}

export function chartRows(r: Results, s: Settings): Row[] {
  const med = (setup: string, m: string) => r.median(setup, m);
  const rel = (
    label: string,
    m: string,
    better: "higher" | "lower",
    target?: number,
    proxyOnly = false,
  ): Row => ({
    label,
    better,
    target,
    zt: med("zt", m),
    stunnel: med("stunnel", m),
    ztunnel: med("ztunnel", m),
    direct: proxyOnly ? undefined : med("direct", m),
  });
  const bigN = Math.max(...s.idleCounts);
  return [
    rel("throughput, 1 conn", "tput1.mbps", "higher", 1),
    rel("throughput, 8 conns", "tput8.mbps", "higher", 1),
    rel("ping-pong round trips/s", "pingpong.rtt_per_s", "higher"),
    rel("added RTT vs direct", "pingpong.added_us", "lower", 1, true),
    rel("new conns/s, 1 client", "connrate1.conn_per_s", "higher", 3),
    rel("new conns/s, 8 clients", "connrate8.conn_per_s", "higher", 3),
    rel("connect p99, 8 clients", "connrate8.p99_us", "lower"),
    rel("latency point p50", "latency.p50_us", "lower"),
    rel("latency point p99", "latency.p99_us", "lower", 1.5),
    rel("proxy CPU/GB, 1 conn", "tput1.cpu_s_per_gb", "lower", 1, true),
    rel("proxy CPU/GB, 8 conns", "tput8.cpu_s_per_gb", "lower", 1, true),
    absolute("idle RSS (worse node)", r, "mem.idle_mib", 60, "MiB"),
    absolute(`KiB/conn at ${bigN} (worse node)`, r, `mem.kib_per_conn_${bigN}`, 10, "KiB"),
  ];
}

const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function renderSvg(r: Results, s: Settings, subtitle: string): string {
  const rows = chartRows(r, s);
  const W = 960, left = 250, right = 900, top = 86, rowH = 54;
  const H = top + rows.length * rowH + 50;
  const lo = -2, hi = 2; // log10 range: 0.01× … 100×
  const x = (v: number) =>
    left + ((Math.min(hi, Math.max(lo, Math.log10(v))) - lo) / (hi - lo)) * (right - left);
  const o: string[] = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(
    `<text x="16" y="24" font-size="16" font-weight="bold">zt ÷ stunnel, zt ÷ ztunnel and stunnel ÷ direct (medians, log scale)</text>`,
  );
  o.push(`<text x="16" y="44" fill="#555">${esc(subtitle)}</text>`);
  o.push(
    `<rect x="16" y="56" width="12" height="10" fill="#2b6cb0"/><text x="32" y="65">zt ÷ stunnel</text>`,
  );
  o.push(
    `<rect x="130" y="56" width="12" height="10" fill="#dd6b20"/><text x="146" y="65">zt ÷ ztunnel</text>`,
  );
  o.push(
    `<rect x="250" y="56" width="12" height="10" fill="#a0aec0"/><text x="266" y="65">stunnel ÷ direct</text>`,
  );
  o.push(
    `<line x1="390" y1="61" x2="390" y2="71" stroke="#c53030" stroke-width="3"/><text x="398" y="65">zt target</text>`,
  );
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d);
    o.push(
      `<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${H - 40}" stroke="${d === 0 ? "#000" : "#ddd"}"` +
        ` stroke-width="${d === 0 ? 1.5 : 1}"/>`,
    );
    o.push(`<text x="${gx}" y="${H - 24}" text-anchor="middle">${10 ** d}×</text>`);
  }
  const ztunnelRan = r.setups.some((s) => s.name === "ztunnel") && !r.notRun.ztunnel;
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const dir = row.better === "higher" ? "higher is better" : "lower is better";
    o.push(`<text x="16" y="${y + 14}">${esc(row.label)}</text>`);
    const sub = esc(row.note ? `${dir}; ${row.note}` : dir);
    o.push(`<text x="16" y="${y + 28}" fill="#777" font-size="10">${sub}</text>`);
    const bar = (v: number | undefined, by: number, color: string, missing: string, target?: number) => {
      if (v === undefined || !Number.isFinite(v) || v <= 0) {
        o.push(`<text x="${x(1) + 4}" y="${by + 10}" fill="#999" font-size="10">${missing}</text>`);
        return;
      }
      const a = x(1), b = x(v), up = b >= a;
      const met = target === undefined
        ? ""
        : (row.better === "higher" ? v >= target : v <= target)
        ? " ✓"
        : " ✗";
      // The value goes past the bar's end, and past the target marker when that is further out.
      const end = target === undefined ? b : up ? Math.max(b, x(target)) : Math.min(b, x(target));
      o.push(
        `<rect x="${Math.min(a, b)}" y="${by}" width="${
          Math.max(1, Math.abs(b - a))
        }" height="12" fill="${color}"/>`,
      );
      const anchor = up ? "start" : "end";
      o.push(
        `<text x="${end + (up ? 5 : -5)}" y="${by + 10}" font-size="10" text-anchor="${anchor}">` +
          `${v.toFixed(2)}×${met}</text>`,
      );
    };
    const zs = row.zt !== undefined && row.stunnel ? row.zt / row.stunnel : undefined;
    const zz = row.zt !== undefined && row.ztunnel ? row.zt / row.ztunnel : undefined;
    const sd = row.stunnel !== undefined && row.direct ? row.stunnel / row.direct : undefined;
    bar(zs, y + 4, "#2b6cb0", r.notRun.zt ? "zt not run" : "no zt value", row.target);
    bar(zz, y + 20, "#dd6b20", ztunnelRan ? "no ztunnel value" : "ztunnel not run");
    bar(sd, y + 36, "#a0aec0", row.direct === undefined ? "" : "no stunnel value");
    if (row.target) {
      const tx = x(row.target);
      o.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + 19}" stroke="#c53030" stroke-width="3"/>`);
    }
  });
  o.push(`</svg>`);
  return o.join("\n") + "\n";
}
