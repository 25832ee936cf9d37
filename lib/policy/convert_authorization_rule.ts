/**
 * One AuthorizationPolicy rule → one ztunnel rule, as istiod's `handleRule` does it, with the
 * validation the Istio webhook applies first (so a document kubectl would refuse is refused here).
 * A rule becomes up to: a clause of `to` matches, a clause of `from` matches, one clause per `when`.
 * HTTP-only attributes are reported; in an ALLOW policy the whole rule is then dropped (null).
 */
import { tryParseCidr } from "./cidr.ts";
import { asFields, asList, checkKeys, fail, type Fields, optList, optStringList } from "./fields.ts";
import type { Action, Cidr, Clause, RbacMatch, ServiceAccountMatch } from "./model.ts";
import { emptyMatch } from "./model.ts";
import { stringMatchFromIstio } from "./string_match.ts";

export interface RuleConversion {
  /** The clauses, or null when an ALLOW rule is dropped for its HTTP attributes. */
  readonly clauses: Clause[] | null;
  /** HTTP attributes found (field names, or `when` keys). */
  readonly l7: readonly string[];
  readonly warnings: readonly string[];
}

const SOURCE_L4 = [
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "ipBlocks",
  "notIpBlocks",
  "serviceAccounts",
  "notServiceAccounts",
];
const SOURCE_L7 = [
  "requestPrincipals",
  "notRequestPrincipals",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "trustDomains",
  "notTrustDomains",
];
const OPERATION_L4 = ["ports", "notPorts"];
const OPERATION_L7 = ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"];
const IP_FIELDS = ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"];

/** `when` keys ztunnel can enforce; any other key is an HTTP attribute. */
export const L4_WHEN_KEYS: readonly string[] = [
  "source.ip",
  "source.namespace",
  "source.principal",
  "destination.ip",
  "destination.port",
];
const KNOWN_WHEN_KEYS = [...L4_WHEN_KEYS, "remote.ip", "source.serviceAccount", "connection.sni"];
const KNOWN_WHEN_PREFIXES = ["request.headers[", "request.auth.", "experimental.envoy.filters."];

function ipList(values: readonly string[], path: string): Cidr[] {
  return values.map((v, i) => {
    const c = tryParseCidr(v);
    if (!c) fail(`${path}[${i}]`, `invalid CIDR ${JSON.stringify(v)}`);
    return c;
  });
}

function portList(values: readonly string[], path: string): number[] {
  return values.map((v, i) => {
    if (!/^\d+$/.test(v) || Number(v) > 65535) fail(`${path}[${i}]`, `invalid port ${JSON.stringify(v)}`);
    return Number(v);
  });
}

function saList(values: readonly string[], policyNamespace: string): ServiceAccountMatch[] {
  return values.map((v) => {
    const slash = v.indexOf("/");
    return slash < 0
      ? { namespace: policyNamespace, serviceAccount: v }
      : { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) };
  });
}

/** A list of non-empty strings; ports may be written as YAML numbers. */
function values(obj: Fields, field: string, path: string): string[] {
  const raw = optList(obj[field], `${path}.${field}`).map((v) => typeof v === "number" ? String(v) : v);
  const list = optStringList(raw, `${path}.${field}`);
  list.forEach((v, i) => {
    if (v === "") fail(`${path}.${field}[${i}]`, "empty value not allowed");
  });
  return list;
}

function sourceMatch(raw: unknown, path: string, ns: string, l7: Set<string>, warnings: string[]): RbacMatch {
  if (raw === undefined || raw === null) fail(path, "`from.source` must not be nil");
  const src = asFields(raw, path);
  checkKeys(src, [...SOURCE_L4, ...SOURCE_L7], path);
  const v: Record<string, string[]> = {};
  for (const f of [...SOURCE_L4, ...SOURCE_L7]) v[f] = values(src, f, path);
  for (const f of IP_FIELDS) ipList(v[f], `${path}.${f}`);
  const any = (fs: string[]) => fs.some((f) => v[f].length > 0);
  if (!any([...SOURCE_L4, ...SOURCE_L7])) fail(path, "`from.source` must not be empty");
  if (
    any(["principals", "notPrincipals", "namespaces", "notNamespaces"]) &&
    any(["serviceAccounts", "notServiceAccounts"])
  ) {
    fail(path, "cannot set serviceAccounts with namespaces or principals");
  }
  for (const f of SOURCE_L7) if (v[f].length > 0) l7.add(f);
  for (const p of [...v.principals, ...v.notPrincipals]) {
    if (p.startsWith("spiffe://")) {
      warnings.push(
        `${path}: principal ${
          JSON.stringify(p)
        } never matches: Istio principals are written without spiffe://`,
      );
    }
  }
  return {
    ...emptyMatch(),
    sourceIps: ipList(v.ipBlocks, `${path}.ipBlocks`),
    notSourceIps: ipList(v.notIpBlocks, `${path}.notIpBlocks`),
    namespaces: v.namespaces.map(stringMatchFromIstio),
    notNamespaces: v.notNamespaces.map(stringMatchFromIstio),
    serviceAccounts: saList(v.serviceAccounts, ns),
    notServiceAccounts: saList(v.notServiceAccounts, ns),
    principals: v.principals.map(stringMatchFromIstio),
    notPrincipals: v.notPrincipals.map(stringMatchFromIstio),
  };
}

function operationMatch(raw: unknown, path: string, l7: Set<string>): RbacMatch {
  if (raw === undefined || raw === null) fail(path, "`to.operation` must not be nil");
  const op = asFields(raw, path);
  checkKeys(op, [...OPERATION_L4, ...OPERATION_L7], path);
  const v: Record<string, string[]> = {};
  for (const f of [...OPERATION_L4, ...OPERATION_L7]) v[f] = values(op, f, path);
  if (![...OPERATION_L4, ...OPERATION_L7].some((f) => v[f].length > 0)) {
    fail(path, "`to.operation` must not be empty");
  }
  for (const f of OPERATION_L7) if (v[f].length > 0) l7.add(f);
  return {
    ...emptyMatch(),
    destinationPorts: portList(v.ports, `${path}.ports`),
    notDestinationPorts: portList(v.notPorts, `${path}.notPorts`),
  };
}

function whenMatch(raw: unknown, path: string, l7: Set<string>): RbacMatch {
  const cond = asFields(raw, path);
  checkKeys(cond, ["key", "values", "notValues"], path);
  const key = typeof cond.key === "string" ? cond.key : "";
  if (key === "") fail(`${path}.key`, "`key` must not be empty");
  const vals = values(cond, "values", path);
  const nots = values(cond, "notValues", path);
  if (vals.length === 0 && nots.length === 0) {
    fail(path, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
  }
  if (!KNOWN_WHEN_KEYS.includes(key) && !KNOWN_WHEN_PREFIXES.some((p) => key.startsWith(p))) {
    fail(`${path}.key`, `unknown attribute: ${key}`);
  }
  const m: Record<string, unknown> = { ...emptyMatch() };
  if (["source.ip", "remote.ip", "destination.ip"].includes(key)) {
    const pos = ipList(vals, `${path}.values`);
    const neg = ipList(nots, `${path}.notValues`);
    if (key === "source.ip") [m.sourceIps, m.notSourceIps] = [pos, neg];
    if (key === "destination.ip") [m.destinationIps, m.notDestinationIps] = [pos, neg];
  } else if (key === "destination.port") {
    [m.destinationPorts, m.notDestinationPorts] = [
      portList(vals, `${path}.values`),
      portList(nots, `${path}.notValues`),
    ];
  } else if (key === "source.namespace") {
    [m.namespaces, m.notNamespaces] = [vals.map(stringMatchFromIstio), nots.map(stringMatchFromIstio)];
  } else if (key === "source.principal") {
    [m.principals, m.notPrincipals] = [vals.map(stringMatchFromIstio), nots.map(stringMatchFromIstio)];
  }
  if (!L4_WHEN_KEYS.includes(key)) l7.add(key);
  return m as unknown as RbacMatch;
}

/** Converts `spec.rules[i]`; throws ZtError("config") naming the field on invalid input. */
export function convertRule(
  raw: unknown,
  path: string,
  action: Action,
  policyNamespace: string,
): RuleConversion {
  if (raw === undefined || raw === null) fail(path, "`rule` must not be nil");
  const rule = asFields(raw, path);
  checkKeys(rule, ["from", "to", "when"], path);
  const l7 = new Set<string>();
  const warnings: string[] = [];
  const clauses: Clause[] = [];
  const list = (field: string) => {
    const v = rule[field];
    if (v === undefined || v === null) return [];
    const l = asList(v, `${path}.${field}`);
    if (l.length === 0 && field !== "when") fail(`${path}.${field}`, `\`${field}\` must not be empty`);
    return l;
  };
  const to = list("to").map((t, i) => {
    const p = `${path}.to[${i}]`;
    const obj = asFields(t, p);
    checkKeys(obj, ["operation"], p);
    return operationMatch(obj.operation, `${p}.operation`, l7);
  });
  const from = list("from").map((f, i) => {
    const p = `${path}.from[${i}]`;
    const obj = asFields(f, p);
    checkKeys(obj, ["source"], p);
    return sourceMatch(obj.source, `${p}.source`, policyNamespace, l7, warnings);
  });
  if (to.length > 0) clauses.push(to);
  if (from.length > 0) clauses.push(from);
  list("when").forEach((w, i) => clauses.push([whenMatch(w, `${path}.when[${i}]`, l7)]));
  const found = [...l7];
  return { clauses: action === "Allow" && found.length > 0 ? null : clauses, l7: found, warnings };
}
