/**
 * `istioctl proxy-config`-style tables over a config_dump JSON (zt's or a real ztunnel's), plus
 * `-o json|yaml` renderings. Pure formatting: input is the parsed dump, output is text.
 * Tables are padded like Go's text/tabwriter (column width = widest cell + padding, last column
 * unpadded), with istioctl's padding: 1 for workloads/services/policies, 5 for secrets.
 */
import { stringify as yamlStringify } from "yaml";

type Obj = Record<string, unknown>;

function rec(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
}
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Renders rows as a tabwriter-aligned table. */
export function renderTable(rows: readonly (readonly string[])[], padding = 1): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length - 1; i++) widths[i] = Math.max(widths[i] ?? 0, r[i].length);
  }
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + padding))).join(""))
    .join("\n") + "\n";
}

/** `network/ip` → `ip` (a VIP or address key without its network). */
function stripNetwork(a: string): string {
  const i = a.indexOf("/");
  return i >= 0 ? a.slice(i + 1) : a;
}

/** A waypoint's service name: found by `ns/hostname` or by VIP among the dump's services. */
function waypointName(gateway: unknown, services: readonly Obj[]): string {
  if (!gateway) return "None";
  const dest = str(rec(gateway).destination);
  for (const s of services) {
    if (`${str(s.namespace)}/${str(s.hostname)}` === dest) return str(s.name);
    if (list(s.vips).some((v) => str(v) === dest)) return str(s.name);
  }
  return dest || "NA";
}

export function formatWorkloads(dump: unknown): string {
  const d = rec(dump);
  const services = list(d.services).map(rec);
  const wls = list(d.workloads).map(rec).sort((a, b) =>
    cmp(`${str(a.namespace)}.${str(a.name)}`, `${str(b.namespace)}.${str(b.name)}`) ||
    cmp(str(a.node), str(b.node))
  );
  const rows = [["NAME", "NAMESPACE", "IP", "NODE", "WAYPOINT", "PROTOCOL"]];
  for (const w of wls) {
    rows.push([
      str(w.name),
      str(w.namespace),
      str(list(w.workloadIps)[0]),
      str(w.node),
      waypointName(w.waypoint, services),
      str(w.protocol) || "TCP",
    ]);
  }
  return renderTable(rows, 1);
}

export function formatServices(dump: unknown): string {
  const d = rec(dump);
  const services = list(d.services).map(rec);
  const health = new Map(list(d.workloads).map(rec).map((w) => [str(w.uid), str(w.status) || "Healthy"]));
  const sorted = [...services].sort((a, b) =>
    cmp(str(a.namespace), str(b.namespace)) || cmp(str(a.name), str(b.name)) ||
    cmp(str(a.hostname), str(b.hostname))
  );
  const rows = [["NAMESPACE", "SERVICE NAME", "SERVICE VIP", "WAYPOINT", "ENDPOINTS"]];
  for (const s of sorted) {
    const eps = Object.values(rec(s.endpoints)).map(rec);
    const healthy = eps.filter((e) => health.get(str(e.workloadUid)) === "Healthy").length;
    rows.push([
      str(s.namespace),
      str(s.name),
      list(s.vips).map((v) => stripNetwork(str(v))).join(","),
      waypointName(s.waypoint, services),
      `${healthy}/${eps.length}`,
    ]);
  }
  return renderTable(rows, 1);
}

export function formatPolicies(dump: unknown): string {
  const pols = list(rec(dump).policies).map(rec).sort((a, b) =>
    cmp(str(a.namespace), str(b.namespace)) || cmp(str(a.name), str(b.name))
  );
  const rows = [["NAMESPACE", "POLICY NAME", "ACTION", "SCOPE"]];
  for (const p of pols) rows.push([str(p.namespace), str(p.name), str(p.action), str(p.scope)]);
  return renderTable(rows, 1);
}

/** A decimal serial (ztunnel's dump) as istioctl prints it: lower-case hex. */
export function serialToHex(serial: string): string {
  if (/^\d+$/.test(serial)) return BigInt(serial).toString(16);
  return serial.replace(/:/g, "").toLowerCase() || "NA";
}

function certValid(c: Obj, now: number): boolean {
  const from = Date.parse(str(c.validFrom));
  const to = Date.parse(str(c.expirationTime));
  return Number.isFinite(from) && Number.isFinite(to) && now > from && now < to;
}

function orNA(v: string): string {
  return v === "" ? "NA" : v;
}

/**
 * One `CA` row per root certificate and one `Cert Chain` row per certificate of the chain (leaf
 * first), per identity; `VALID CERT` is whether now lies within the certificate's validity.
 */
export function formatSecrets(dump: unknown, now: number = Date.now()): string {
  const certs = list(rec(dump).certificates).map(rec);
  const rows = [["NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"]];
  for (const c of certs) {
    const state = str(c.state).startsWith("Unavailable") ? "Unavailable" : str(c.state);
    const id = str(c.identity);
    const chain = list(c.certChain).map(rec);
    const roots = list(c.rootCerts ?? c.caCert).map(rec);
    if (chain.length === 0 && roots.length === 0) {
      rows.push([id, "NA", state, "false", "NA", "NA", "NA"]);
      continue;
    }
    const row = (type: string, x: Obj) => [
      id,
      type,
      state,
      String(certValid(x, now)),
      serialToHex(str(x.serialNumber)),
      orNA(str(x.expirationTime)),
      orNA(str(x.validFrom)),
    ];
    for (const r of roots) rows.push(row("CA", r));
    for (const x of chain) rows.push(row("Cert Chain", x));
  }
  return renderTable(rows, 5);
}

/** Every table, separated by blank lines (like `istioctl proxy-config all`). */
export function formatAll(dump: unknown, now: number = Date.now()): string {
  return [formatWorkloads(dump), formatServices(dump), formatPolicies(dump), formatSecrets(dump, now)].join(
    "\n",
  );
}

export function toJson(v: unknown): string {
  return JSON.stringify(v, null, 2) + "\n";
}

export function toYaml(v: unknown): string {
  return yamlStringify(v, { aliasDuplicateObjects: false });
}
