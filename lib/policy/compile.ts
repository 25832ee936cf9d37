/**
 * A policy precompiled for matching (CIDRs as words, everything else as is), and ztunnel's
 * `Authorization::matches` over it. Pure; used by the evaluator and by explanations.
 */
import type { Identity } from "../identity/spiffe.ts";
import {
  canonicalIp,
  compileCidr,
  type CompiledCidr,
  compiledCidrContains,
  type IpAddress,
  parseIp,
} from "./cidr.ts";
import type { Authorization, RbacConnection, RbacMatch, ServiceAccountMatch, StringMatch } from "./model.ts";
import { policyKey } from "./model.ts";
import { matchPrincipal, matchString } from "./string_match.ts";

export interface CompiledMatch {
  /** Every list empty: ztunnel skips it (it never matches). */
  readonly empty: boolean;
  readonly namespaces: readonly StringMatch[];
  readonly notNamespaces: readonly StringMatch[];
  readonly principals: readonly StringMatch[];
  readonly notPrincipals: readonly StringMatch[];
  readonly sourceIps: readonly CompiledCidr[];
  readonly notSourceIps: readonly CompiledCidr[];
  readonly destinationIps: readonly CompiledCidr[];
  readonly notDestinationIps: readonly CompiledCidr[];
  readonly destinationPorts: readonly number[];
  readonly notDestinationPorts: readonly number[];
  readonly serviceAccounts: readonly ServiceAccountMatch[];
  readonly notServiceAccounts: readonly ServiceAccountMatch[];
}

export interface CompiledPolicy {
  readonly key: string;
  readonly policy: Authorization;
  readonly rules: readonly (readonly (readonly CompiledMatch[])[])[];
  /** Set when the policy could not be compiled (a malformed CIDR): it then fails closed. */
  readonly broken?: string;
}

const NO_CIDRS: readonly CompiledCidr[] = Object.freeze([]);

function cidrs(list: RbacMatch["sourceIps"]): readonly CompiledCidr[] {
  return list.length === 0 ? NO_CIDRS : list.map(compileCidr);
}

function compileMatch(m: RbacMatch): CompiledMatch {
  const empty = m.namespaces.length === 0 && m.notNamespaces.length === 0 && m.principals.length === 0 &&
    m.notPrincipals.length === 0 && m.sourceIps.length === 0 && m.notSourceIps.length === 0 &&
    m.destinationIps.length === 0 && m.notDestinationIps.length === 0 && m.destinationPorts.length === 0 &&
    m.notDestinationPorts.length === 0 && m.serviceAccounts.length === 0 && m.notServiceAccounts.length === 0;
  return {
    empty,
    namespaces: m.namespaces,
    notNamespaces: m.notNamespaces,
    principals: m.principals,
    notPrincipals: m.notPrincipals,
    sourceIps: cidrs(m.sourceIps),
    notSourceIps: cidrs(m.notSourceIps),
    destinationIps: cidrs(m.destinationIps),
    notDestinationIps: cidrs(m.notDestinationIps),
    destinationPorts: m.destinationPorts,
    notDestinationPorts: m.notDestinationPorts,
    serviceAccounts: m.serviceAccounts,
    notServiceAccounts: m.notServiceAccounts,
  };
}

/**
 * Never throws: a policy with a malformed CIDR (which the parsers never produce) is marked broken and
 * fails closed: a broken DENY matches every connection, a broken ALLOW none.
 */
export function compilePolicy(p: Authorization): CompiledPolicy {
  const key = policyKey(p);
  try {
    return { key, policy: p, rules: p.rules.map((rule) => rule.map((clause) => clause.map(compileMatch))) };
  } catch (e) {
    return { key, policy: p, rules: [], broken: e instanceof Error ? e.message : String(e) };
  }
}

/** What matching needs from a connection, derived once per decision (IPs parsed lazily). */
export class ConnFacts {
  /** The identity without `spiffe://`; undefined for plaintext. */
  readonly principal: string | undefined;
  /** The namespace of the peer identity; "" for plaintext. */
  readonly namespace: string;
  readonly identity: Identity | undefined;
  readonly dstPort: number;
  #src: IpAddress | null | undefined;
  #dst: IpAddress | null | undefined;

  constructor(readonly conn: RbacConnection) {
    const id = conn.srcIdentity;
    this.identity = id;
    this.principal = id ? `${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}` : undefined;
    this.namespace = id ? id.namespace : "";
    this.dstPort = conn.dstPort;
  }

  get srcIp(): IpAddress | null {
    if (this.#src === undefined) this.#src = parseConnIp(this.conn.srcIp);
    return this.#src;
  }

  get dstIp(): IpAddress | null {
    if (this.#dst === undefined) this.#dst = parseConnIp(this.conn.dstIp);
    return this.#dst;
  }
}

function parseConnIp(text: string): IpAddress | null {
  const ip = parseIp(text);
  return ip ? canonicalIp(ip) : null;
}

function anyCidr(cidrs: readonly CompiledCidr[], ip: IpAddress | null): boolean {
  if (ip === null) return false;
  for (const c of cidrs) if (compiledCidrContains(c, ip)) return true;
  return false;
}

function anyString(ms: readonly StringMatch[], value: string): boolean {
  for (const m of ms) if (matchString(m, value)) return true;
  return false;
}

function anyPrincipal(ms: readonly StringMatch[], principal: string | undefined): boolean {
  for (const m of ms) if (matchPrincipal(m, principal)) return true;
  return false;
}

function anySa(sas: readonly ServiceAccountMatch[], id: Identity | undefined): boolean {
  if (!id) return false;
  for (const sa of sas) {
    if (sa.namespace === id.namespace && sa.serviceAccount === id.serviceAccount) return true;
  }
  return false;
}

/** One match: each family is `(positive empty or any) and not (any negative)`; all families AND-ed. */
export function matchOne(m: CompiledMatch, f: ConnFacts): boolean {
  if (m.destinationIps.length > 0 && !anyCidr(m.destinationIps, f.dstIp)) return false;
  if (m.notDestinationIps.length > 0 && anyCidr(m.notDestinationIps, f.dstIp)) return false;
  if (m.sourceIps.length > 0 && !anyCidr(m.sourceIps, f.srcIp)) return false;
  if (m.notSourceIps.length > 0 && anyCidr(m.notSourceIps, f.srcIp)) return false;
  if (m.destinationPorts.length > 0 && !m.destinationPorts.includes(f.dstPort)) return false;
  if (m.notDestinationPorts.length > 0 && m.notDestinationPorts.includes(f.dstPort)) return false;
  if (m.serviceAccounts.length > 0 && !anySa(m.serviceAccounts, f.identity)) return false;
  if (m.notServiceAccounts.length > 0 && anySa(m.notServiceAccounts, f.identity)) return false;
  if (m.principals.length > 0 && !anyPrincipal(m.principals, f.principal)) return false;
  if (m.notPrincipals.length > 0 && anyPrincipal(m.notPrincipals, f.principal)) return false;
  if (m.namespaces.length > 0 && !anyString(m.namespaces, f.namespace)) return false;
  if (m.notNamespaces.length > 0 && anyString(m.notNamespaces, f.namespace)) return false;
  return true;
}

/**
 * ztunnel's `Authorization::matches`: no rules → false; rules OR-ed; clauses AND-ed (a rule with no
 * clauses and an empty clause match); matches OR-ed, empty matches skipped.
 */
export function policyMatches(p: CompiledPolicy, f: ConnFacts): boolean {
  if (p.broken !== undefined) return p.policy.action === "Deny";
  const rules = p.rules;
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r];
    let ruleMatch = true;
    for (let c = 0; c < rule.length; c++) {
      const clause = rule[c];
      if (clause.length === 0) continue;
      let clauseMatch = false;
      for (let i = 0; i < clause.length; i++) {
        const m = clause[i];
        if (!m.empty && matchOne(m, f)) {
          clauseMatch = true;
          break;
        }
      }
      if (!clauseMatch) {
        ruleMatch = false;
        break;
      }
    }
    if (ruleMatch) return true;
  }
  return false;
}
