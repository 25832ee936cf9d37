/**
 * The admin `/` page: a small self-contained HTML view of the node (workloads, live connections with
 * identities and byte counts, certificates and their expiry, admin endpoints). Every value from the
 * mesh is HTML-escaped.
 */

/** A live connection as the admin page and APIs show it. */
export interface ConnectionView {
  readonly id: string;
  readonly direction: "inbound" | "outbound";
  readonly src: string;
  readonly dst: string;
  readonly srcIdentity?: string;
  readonly dstIdentity?: string;
  readonly bytesSent: number;
  readonly bytesRecv: number;
  /** ms since the epoch */
  readonly startedAt: number;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(v: unknown): string {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

type Row = readonly unknown[];

function table(headers: readonly string[], rows: readonly Row[], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function rec(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

const ENDPOINTS: readonly (readonly [string, string])[] = [
  ["config_dump", "dump the current ztunnel configuration (JSON)"],
  ["logging", "POST: query/change logging levels"],
  ["quitquitquit", "POST: shut down the server gracefully"],
];

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
th{background:#eef}tr:nth-child(even){background:#f7f7f7}.empty{color:#777}.summary span{margin-right:1.2rem}
code{background:#f2f2f2;padding:0 .2rem}`;

export interface DashboardInput {
  /** The config_dump object (read defensively). */
  readonly dump: unknown;
  readonly connections: readonly ConnectionView[];
  /** ms since the epoch */
  readonly now: number;
}

export function renderDashboard(input: DashboardInput): string {
  const dump = rec(input.dump);
  const workloads = list(dump.workloads).map(rec);
  const certs = list(dump.certificates).map(rec);
  const services = list(dump.services);
  const policies = list(dump.policies);
  const version = str(rec(dump.version).version);

  const wlRows = workloads.map((w) => [
    str(w.name),
    str(w.namespace),
    list(w.workloadIps).map(str).join(", "),
    str(w.node),
    str(w.protocol),
    str(w.status),
    w.waypoint ? str(rec(w.waypoint).destination) : "None",
  ]);
  const conns = [...input.connections].sort((a, b) => a.startedAt - b.startedAt);
  const connRows = conns.map((c) => [
    c.id,
    c.direction,
    c.src,
    c.srcIdentity ?? "-",
    c.dst,
    c.dstIdentity ?? "-",
    formatBytes(c.bytesSent),
    formatBytes(c.bytesRecv),
    formatDuration(input.now - c.startedAt),
  ]);
  const certRows = certs.map((c) => {
    const leaf = rec(list(c.certChain)[0]);
    const exp = Date.parse(str(leaf.expirationTime));
    const left = Number.isFinite(exp)
      ? (exp > input.now ? `in ${formatDuration(exp - input.now)}` : "expired")
      : "-";
    return [
      str(c.identity),
      str(c.state),
      str(leaf.expirationTime) || "-",
      left,
      str(leaf.serialNumber) || "-",
    ];
  });
  const links = ENDPOINTS.map(([p, d]) =>
    `<li><a href="${escapeHtml(p)}"><code>/${escapeHtml(p)}</code></a> ${escapeHtml(d)}</li>`
  ).join("\n");

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>zt admin</title>
<style>${STYLE}</style></head>
<body>
<h1>zt node proxy${version ? ` <small>${escapeHtml(version)}</small>` : ""}</h1>
<p class="summary"><span>workloads: <b>${workloads.length}</b></span><span>services: <b>${services.length}</b></span>
<span>policies: <b>${policies.length}</b></span><span>connections: <b>${conns.length}</b></span>
<span>certificates: <b>${certs.length}</b></span></p>
<h2>Live connections</h2>
${
    table(
      [
        "ID",
        "DIRECTION",
        "SOURCE",
        "SOURCE IDENTITY",
        "DESTINATION",
        "DESTINATION IDENTITY",
        "SENT",
        "RECEIVED",
        "AGE",
      ],
      connRows,
      "no live connections",
    )
  }
<h2>Certificates</h2>
${table(["IDENTITY", "STATE", "NOT AFTER", "EXPIRES", "SERIAL"], certRows, "no certificates")}
<h2>Workloads</h2>
${table(["NAME", "NAMESPACE", "IPS", "NODE", "PROTOCOL", "STATUS", "WAYPOINT"], wlRows, "no workloads")}
<h2>Endpoints</h2>
<ul>
${links}
</ul>
</body></html>
`;
}
