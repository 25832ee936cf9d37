/**
 * ztunnel's L4 authorization model (`istio.security.Authorization`), in zt's own types.
 * Shapes follow ztunnel's config_dump names; `rules` is rules → clauses → matches.
 */
import type { Identity } from "../identity/spiffe.ts";

export type Scope = "Global" | "Namespace" | "WorkloadSelector";
export type Action = "Allow" | "Deny";

export type StringMatch =
  | { readonly kind: "exact"; readonly value: string }
  | { readonly kind: "prefix"; readonly value: string }
  | { readonly kind: "suffix"; readonly value: string }
  | { readonly kind: "presence" };

/** An IP prefix. `ip` is canonical text; `prefixLen` is 32/128 for a host. */
export interface Cidr {
  readonly ip: string;
  readonly prefixLen: number;
}

export interface ServiceAccountMatch {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** One match: every non-empty field family must pass (AND); an all-empty match never matches. */
export interface RbacMatch {
  readonly namespaces: readonly StringMatch[];
  readonly notNamespaces: readonly StringMatch[];
  readonly principals: readonly StringMatch[];
  readonly notPrincipals: readonly StringMatch[];
  readonly sourceIps: readonly Cidr[];
  readonly notSourceIps: readonly Cidr[];
  readonly destinationIps: readonly Cidr[];
  readonly notDestinationIps: readonly Cidr[];
  readonly destinationPorts: readonly number[];
  readonly notDestinationPorts: readonly number[];
  readonly serviceAccounts: readonly ServiceAccountMatch[];
  readonly notServiceAccounts: readonly ServiceAccountMatch[];
}

/** Matches OR-ed within a clause. */
export type Clause = readonly RbacMatch[];
/** Clauses AND-ed within a rule. */
export type Rule = readonly Clause[];

export interface Authorization {
  readonly name: string;
  readonly namespace: string;
  readonly scope: Scope;
  readonly action: Action;
  /** Rules OR-ed; zero rules never match. */
  readonly rules: readonly Rule[];
  readonly dryRun: boolean;
}

/** `ns/name`, the key of a policy in the state, in workloads' `authorizationPolicies` and on the wire. */
export function policyKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

/** What RBAC is evaluated on: the connection as the destination node sees it. */
export interface RbacConnection {
  readonly srcIp: string;
  /** The peer's SPIFFE identity; undefined for plaintext. */
  readonly srcIdentity?: Identity;
  /** The destination (local pod) IP. */
  readonly dstIp: string;
  /** The real target port (after service → target port mapping). */
  readonly dstPort: number;
}

/** The destination workload, as far as policy selection needs it. */
export interface PolicyTarget {
  readonly namespace: string;
  readonly authorizationPolicies: readonly string[];
}

/** A decision with its reason; a deny is a value, not an exception. */
export interface Decision {
  readonly allowed: boolean;
  /** ztunnel's wording: `explicitly denied by: ns/name`, `allow policies exist, but none allowed`, ... */
  readonly reason: string;
  /** `ns/name` of the deciding policy, when one decided. */
  readonly policy?: string;
  /** Dry-run policies that matched (logged, never enforced). */
  readonly dryRunMatches: readonly string[];
}

export function emptyMatch(): RbacMatch {
  return {
    namespaces: [],
    notNamespaces: [],
    principals: [],
    notPrincipals: [],
    sourceIps: [],
    notSourceIps: [],
    destinationIps: [],
    notDestinationIps: [],
    destinationPorts: [],
    notDestinationPorts: [],
    serviceAccounts: [],
    notServiceAccounts: [],
  };
}
