/**
 * Policies in ztunnel's config_dump / local-config JSON shape (`src/rbac.rs` serde):
 * `{name, namespace, scope, action, rules: [[[match]]], dryRun}`, match lists camelCase with empty ones
 * omitted, StringMatch as `{"Exact": "…"}` / `{"Prefix"}` / `{"Suffix"}` / `{"Presence": []}`,
 * CIDRs as `"1.2.3.0/24"`, service accounts as `{namespace, serviceAccount}`.
 */
import { formatCidr, tryParseCidr } from "./cidr.ts";
import type {
  Action,
  Authorization,
  Cidr,
  Clause,
  RbacMatch,
  Rule,
  Scope,
  ServiceAccountMatch,
  StringMatch,
} from "./model.ts";
import { emptyMatch } from "./model.ts";
import {
  asBool,
  asFields,
  asList,
  asPort,
  asString,
  checkKeys,
  describe,
  fail,
  isFields,
  optList,
} from "./fields.ts";

export type StringMatchDump = { Exact: string } | { Prefix: string } | { Suffix: string } | {
  Presence: [];
};

export function stringMatchToDump(m: StringMatch): StringMatchDump {
  switch (m.kind) {
    case "exact":
      return { Exact: m.value };
    case "prefix":
      return { Prefix: m.value };
    case "suffix":
      return { Suffix: m.value };
    case "presence":
      return { Presence: [] };
  }
}

/** Field order follows ztunnel's `RbacMatch` struct, so dumps diff cleanly against ztunnel's. */
const MATCH_FIELDS = [
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "principals",
  "notPrincipals",
  "sourceIps",
  "notSourceIps",
  "destinationIps",
  "notDestinationIps",
  "destinationPorts",
  "notDestinationPorts",
] as const satisfies readonly (keyof RbacMatch)[];

type MatchField = (typeof MATCH_FIELDS)[number];

const KIND: Record<MatchField, "string" | "sa" | "cidr" | "port"> = {
  namespaces: "string",
  notNamespaces: "string",
  serviceAccounts: "sa",
  notServiceAccounts: "sa",
  principals: "string",
  notPrincipals: "string",
  sourceIps: "cidr",
  notSourceIps: "cidr",
  destinationIps: "cidr",
  notDestinationIps: "cidr",
  destinationPorts: "port",
  notDestinationPorts: "port",
};

export function matchToDump(m: RbacMatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of MATCH_FIELDS) {
    const list = m[f] as readonly unknown[];
    if (list.length === 0) continue;
    switch (KIND[f]) {
      case "string":
        out[f] = (list as StringMatch[]).map(stringMatchToDump);
        break;
      case "sa":
        out[f] = (list as ServiceAccountMatch[]).map((s) => ({
          namespace: s.namespace,
          serviceAccount: s.serviceAccount,
        }));
        break;
      case "cidr":
        out[f] = (list as Cidr[]).map(formatCidr);
        break;
      case "port":
        out[f] = [...list];
        break;
    }
  }
  return out;
}

export interface PolicyDump {
  name: string;
  namespace: string;
  scope: Scope;
  action: Action;
  rules: Record<string, unknown>[][][];
  dryRun: boolean;
}

export function policyToDump(p: Authorization): PolicyDump {
  return {
    name: p.name,
    namespace: p.namespace,
    scope: p.scope,
    action: p.action,
    rules: p.rules.map((rule) => rule.map((clause) => clause.map(matchToDump))),
    dryRun: p.dryRun,
  };
}

export function parseStringMatch(raw: unknown, path: string): StringMatch {
  const obj = asFields(raw, path);
  const keys = Object.keys(obj);
  if (keys.length !== 1) {
    fail(path, `expected exactly one of Exact, Prefix, Suffix, Presence, found ${describe(raw)}`);
  }
  const [k] = keys;
  const v = obj[k];
  switch (k) {
    case "Exact":
      return { kind: "exact", value: asString(v, `${path}.Exact`) };
    case "Prefix":
      return { kind: "prefix", value: asString(v, `${path}.Prefix`) };
    case "Suffix":
      return { kind: "suffix", value: asString(v, `${path}.Suffix`) };
    case "Presence":
      if (
        !(v === null || (Array.isArray(v) && v.length === 0) || (isFields(v) && Object.keys(v).length === 0))
      ) {
        fail(`${path}.Presence`, `expected [], found ${describe(v)}`);
      }
      return { kind: "presence" };
    default:
      return fail(
        path,
        `unknown string match ${JSON.stringify(k)} (expected Exact, Prefix, Suffix or Presence)`,
      );
  }
}

function parseSa(raw: unknown, path: string): ServiceAccountMatch {
  const obj = asFields(raw, path);
  checkKeys(obj, ["namespace", "serviceAccount"], path);
  return {
    namespace: asString(obj.namespace, `${path}.namespace`),
    serviceAccount: asString(obj.serviceAccount, `${path}.serviceAccount`),
  };
}

function parseCidrField(raw: unknown, path: string): Cidr {
  const text = asString(raw, path);
  const c = tryParseCidr(text);
  if (!c) fail(path, `invalid CIDR ${JSON.stringify(text)}`);
  return c;
}

export function parseMatch(raw: unknown, path: string): RbacMatch {
  const obj = asFields(raw ?? {}, path);
  checkKeys(obj, MATCH_FIELDS, path);
  const m: Record<string, unknown[]> = { ...emptyMatch() } as unknown as Record<string, unknown[]>;
  for (const f of MATCH_FIELDS) {
    const list = optList(obj[f], `${path}.${f}`);
    m[f] = list.map((v, i) => {
      const p = `${path}.${f}[${i}]`;
      switch (KIND[f]) {
        case "string":
          return parseStringMatch(v, p);
        case "sa":
          return parseSa(v, p);
        case "cidr":
          return parseCidrField(v, p);
        case "port":
          return asPort(v, p);
      }
    });
  }
  return m as unknown as RbacMatch;
}

const SCOPES: readonly Scope[] = ["Global", "Namespace", "WorkloadSelector"];
const ACTIONS: readonly Action[] = ["Allow", "Deny"];

/**
 * The inverse of policyToDump, for the `policies:` list of the local config file. Unknown fields are
 * rejected at every level; `dryRun` defaults to false. Throws ZtError("config") naming the field path.
 */
export function parsePolicy(raw: unknown, path: string): Authorization {
  const obj = asFields(raw, path);
  checkKeys(obj, ["name", "namespace", "scope", "action", "rules", "dryRun"], path);
  const name = asString(obj.name, `${path}.name`);
  const namespace = asString(obj.namespace, `${path}.namespace`);
  const scope = asString(obj.scope, `${path}.scope`);
  if (!SCOPES.includes(scope as Scope)) {
    fail(`${path}.scope`, `unknown scope ${JSON.stringify(scope)} (expected ${SCOPES.join(", ")})`);
  }
  const action = asString(obj.action, `${path}.action`);
  if (!ACTIONS.includes(action as Action)) {
    fail(`${path}.action`, `unknown action ${JSON.stringify(action)} (expected Allow or Deny)`);
  }
  if (obj.rules === undefined) fail(`${path}.rules`, "missing field (use [] for a policy without rules)");
  const rules: Rule[] = asList(obj.rules, `${path}.rules`).map((rule, r): Rule =>
    asList(rule, `${path}.rules[${r}]`).map((clause, c): Clause =>
      asList(clause, `${path}.rules[${r}][${c}]`).map((m, i) =>
        parseMatch(m, `${path}.rules[${r}][${c}][${i}]`)
      )
    )
  );
  const dryRun = obj.dryRun === undefined ? false : asBool(obj.dryRun, `${path}.dryRun`);
  return { name, namespace, scope: scope as Scope, action: action as Action, rules, dryRun };
}
