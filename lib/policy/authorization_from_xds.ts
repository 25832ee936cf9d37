/**
 * istio.security.Authorization (xDS) → zt's Authorization. Invalid input throws ZtError("xds")
 * naming the field (e.g. `rules[0].clauses[1].matches[0].source_ips[2].length: ...`); the xDS
 * handler turns that into the NACK reason.
 */
import { ZtError } from "../error.ts";
import { formatIp } from "./cidr.ts";
import { hasField, messageCodec, typeUrlOf } from "../xds/proto.ts";
import type {
  Action,
  Authorization,
  Cidr,
  RbacMatch,
  Scope,
  ServiceAccountMatch,
  StringMatch,
} from "./model.ts";

export const AUTHORIZATION_TYPE_URL: string = typeUrlOf("istio.security.Authorization");

// ---- decoded istio.security shapes (protobufjs objects) ----

export interface XdsStringMatch {
  exact?: string | null;
  prefix?: string | null;
  suffix?: string | null;
  presence?: Record<string, never> | null;
}

export interface XdsIpPrefix {
  address?: Uint8Array;
  length?: number;
}

export interface XdsServiceAccountMatch {
  namespace?: string;
  serviceAccount?: string;
}

export interface XdsMatch {
  namespaces?: XdsStringMatch[];
  notNamespaces?: XdsStringMatch[];
  principals?: XdsStringMatch[];
  notPrincipals?: XdsStringMatch[];
  sourceIps?: XdsIpPrefix[];
  notSourceIps?: XdsIpPrefix[];
  destinationIps?: XdsIpPrefix[];
  notDestinationIps?: XdsIpPrefix[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
  serviceAccounts?: XdsServiceAccountMatch[];
  notServiceAccounts?: XdsServiceAccountMatch[];
}

export interface XdsAuthorization {
  name?: string;
  namespace?: string;
  scope?: number;
  action?: number;
  rules?: { clauses?: { matches?: XdsMatch[] }[] }[];
  dryRun?: boolean;
}

const codec = messageCodec<XdsAuthorization>("istio.security.Authorization");

/** Decodes an Any.value of type istio.security.Authorization. Throws ZtError("xds") when malformed. */
export function decodeAuthorization(bytes: Uint8Array): XdsAuthorization {
  return codec.decode(bytes);
}

/** Encodes an istio.security.Authorization (protobufjs object shape); for tests, fakes and tools. */
export function encodeAuthorization(a: XdsAuthorization): Uint8Array {
  return codec.encode(a);
}

/** Decode + convert one Authorization resource body. */
export function authorizationFromXdsBytes(bytes: Uint8Array): Authorization {
  return authorizationFromXds(decodeAuthorization(bytes));
}

function fail(field: string, reason: string): never {
  throw new ZtError("xds", `${field}: ${reason}`);
}

const SCOPES: readonly Scope[] = ["Global", "Namespace", "WorkloadSelector"];
const ACTIONS: readonly Action[] = ["Allow", "Deny"];

function stringMatch(field: string, m: XdsStringMatch): StringMatch {
  if (hasField(m, "exact")) return { kind: "exact", value: m.exact! };
  if (hasField(m, "prefix")) return { kind: "prefix", value: m.prefix! };
  if (hasField(m, "suffix")) return { kind: "suffix", value: m.suffix! };
  if (hasField(m, "presence")) return { kind: "presence" };
  return fail(field, "no match_type is set");
}

function cidr(field: string, a: XdsIpPrefix): Cidr {
  const bytes = a.address ?? new Uint8Array();
  if (bytes.length !== 4 && bytes.length !== 16) {
    fail(`${field}.address`, `invalid IP length ${bytes.length} (want 4 or 16 bytes)`);
  }
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push(((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0);
  }
  const ip = formatIp({ v6: bytes.length === 16, words });
  const max = bytes.length * 8;
  const prefixLen = a.length ?? 0;
  if (prefixLen > max) fail(`${field}.length`, `prefix length ${prefixLen} exceeds ${max}`);
  return { ip, prefixLen };
}

function port(field: string, p: number): number {
  if (p > 65535) fail(field, `invalid port ${p}`);
  return p;
}

function serviceAccount(m: XdsServiceAccountMatch): ServiceAccountMatch {
  return { namespace: m.namespace ?? "", serviceAccount: m.serviceAccount ?? "" };
}

function list<T, U>(field: string, xs: readonly T[] | undefined, f: (field: string, x: T) => U): U[] {
  return (xs ?? []).map((x, i) => f(`${field}[${i}]`, x));
}

export function matchFromXds(field: string, m: XdsMatch): RbacMatch {
  return {
    namespaces: list(`${field}.namespaces`, m.namespaces, stringMatch),
    notNamespaces: list(`${field}.not_namespaces`, m.notNamespaces, stringMatch),
    principals: list(`${field}.principals`, m.principals, stringMatch),
    notPrincipals: list(`${field}.not_principals`, m.notPrincipals, stringMatch),
    sourceIps: list(`${field}.source_ips`, m.sourceIps, cidr),
    notSourceIps: list(`${field}.not_source_ips`, m.notSourceIps, cidr),
    destinationIps: list(`${field}.destination_ips`, m.destinationIps, cidr),
    notDestinationIps: list(`${field}.not_destination_ips`, m.notDestinationIps, cidr),
    destinationPorts: list(`${field}.destination_ports`, m.destinationPorts, port),
    notDestinationPorts: list(`${field}.not_destination_ports`, m.notDestinationPorts, port),
    serviceAccounts: (m.serviceAccounts ?? []).map(serviceAccount),
    notServiceAccounts: (m.notServiceAccounts ?? []).map(serviceAccount),
  };
}

export function authorizationFromXds(a: XdsAuthorization): Authorization {
  const scope = SCOPES[a.scope ?? 0];
  if (scope === undefined) fail("scope", `unknown enum value ${a.scope}`);
  const action = ACTIONS[a.action ?? 0];
  if (action === undefined) fail("action", `unknown enum value ${a.action}`);
  return {
    name: a.name ?? "",
    namespace: a.namespace ?? "",
    scope,
    action,
    rules: (a.rules ?? []).map((r, ri) =>
      (r.clauses ?? []).map((c, ci) =>
        (c.matches ?? []).map((m, mi) => matchFromXds(`rules[${ri}].clauses[${ci}].matches[${mi}]`, m))
      )
    ),
    dryRun: a.dryRun ?? false,
  };
}
