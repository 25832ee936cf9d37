/**
 * PeerAuthentication for ambient, as istiod does it (`authorization.go`, `policies.go`):
 * STRICT is a DENY of connections without a peer identity. Whenever any PeerAuthentication exists the
 * static policy `<rootns>/istio_converted_static_strict` is sent; each workload whose effective mode
 * (mesh → namespace → workload, oldest policy first at each level, UNSET inherits) is STRICT lists it.
 * A workload PeerAuthentication with portLevelMtls becomes its own DENY policy
 * `<ns>/converted_peer_authentication_<name>` that replaces the static one on that workload.
 *
 * Deliberate deviations from istiod's code, all toward its documented intent (in each case istiod
 * lists a policy key it never sends, or drops one it should): port-level DISABLE is treated like
 * PERMISSIVE everywhere (istiod's key selection misses it under an UNSET workload mode); a STRICT
 * port under a PERMISSIVE/DISABLE workload mode is always enforced (an operator-precedence slip in
 * istiod drops it when only the mesh policy is STRICT); and a namespace PeerAuthentication with an
 * UNSET mode inherits the mesh mode for port exemptions too, as it does everywhere else.
 */
import { asFields, asString, checkKeys, fail } from "./fields.ts";
import { type DocMeta, hasLabels, type MtlsMode, parseSelector, type PeerAuthn } from "./istio_resources.ts";
import type { Authorization, Clause, RbacMatch, Rule } from "./model.ts";
import { emptyMatch } from "./model.ts";

export const STATIC_STRICT_POLICY_NAME = "istio_converted_static_strict";
export const CONVERTED_PEER_AUTHENTICATION_PREFIX = "converted_peer_authentication_";

const MODES: readonly MtlsMode[] = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"];

function parseMtls(raw: unknown, path: string): MtlsMode {
  if (raw === undefined || raw === null) return "UNSET";
  const obj = asFields(raw, path);
  checkKeys(obj, ["mode"], path);
  if (obj.mode === undefined || obj.mode === null) return "UNSET";
  const mode = asString(obj.mode, `${path}.mode`);
  if (!MODES.includes(mode as MtlsMode)) {
    fail(`${path}.mode`, `unknown mode ${JSON.stringify(mode)} (expected ${MODES.join(", ")})`);
  }
  return mode as MtlsMode;
}

/** Parses and validates a PeerAuthentication spec like Istio's webhook; throws ZtError("config"). */
export function parsePeerAuthentication(
  meta: DocMeta,
  specRaw: unknown,
): { pa: PeerAuthn; warnings: string[] } {
  const spec = asFields(specRaw ?? {}, "spec");
  checkKeys(spec, ["selector", "mtls", "portLevelMtls"], "spec");
  const warnings: string[] = [];
  const selector = parseSelector(spec.selector, "spec.selector");
  if (selector && !hasLabels(selector)) warnings.push("workload selector specified without labels");
  const mode = parseMtls(spec.mtls, "spec.mtls");
  const ports: { port: number; mode: MtlsMode }[] = [];
  if (spec.portLevelMtls !== undefined && spec.portLevelMtls !== null) {
    const plm = asFields(spec.portLevelMtls, "spec.portLevelMtls");
    const entries = Object.entries(plm);
    if (entries.length === 0) {
      fail("spec.portLevelMtls", "port level mTLS, if defined, must have at least one element");
    }
    if (!hasLabels(selector)) {
      fail("spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS");
    }
    for (const [k, v] of entries) {
      const port = /^\d+$/.test(k) ? Number(k) : NaN;
      if (!(port >= 1 && port <= 65535)) fail(`spec.portLevelMtls.${k}`, "port must be in range 1..65535");
      ports.push({ port, mode: parseMtls(v ?? {}, `spec.portLevelMtls.${k}`) });
    }
    ports.sort((a, b) => a.port - b.port);
  }
  return {
    pa: { name: meta.name, namespace: meta.namespace, selector, mode, portLevelMtls: ports },
    warnings,
  };
}

const notPrincipalsPresence: RbacMatch = { ...emptyMatch(), notPrincipals: [{ kind: "presence" }] };

/** The static DENY-without-identity policy istiod sends when any PeerAuthentication exists. */
export function staticStrictPolicy(rootNamespace: string): Authorization {
  return {
    name: STATIC_STRICT_POLICY_NAME,
    namespace: rootNamespace,
    scope: "WorkloadSelector",
    action: "Deny",
    rules: [[[notPrincipalsPresence]]],
    dryRun: false,
  };
}

export function convertedPeerAuthenticationKey(pa: PeerAuthn): string {
  return `${pa.namespace}/${CONVERTED_PEER_AUTHENTICATION_PREFIX}${pa.name}`;
}

const isStrict = (m: MtlsMode | undefined) => m === "STRICT";
const isUnset = (m: MtlsMode | undefined) => m === undefined || m === "UNSET";
const isLax = (m: MtlsMode | undefined) => m === "PERMISSIVE" || m === "DISABLE";

/**
 * istiod's `convertPeerAuthentication`: the DENY policy for a workload PeerAuthentication with
 * portLevelMtls, given the namespace and mesh PeerAuthentications (selector-less, oldest); undefined
 * when none is needed.
 */
export function convertPeerAuthentication(
  rootNamespace: string,
  pa: PeerAuthn,
  nsPa?: PeerAuthn,
  rootPa?: PeerAuthn,
): Authorization | undefined {
  if (pa.namespace === rootNamespace || pa.selector === undefined || pa.portLevelMtls.length === 0) {
    return undefined;
  }
  const mode = pa.mode;
  const clauses: Clause[] = [];
  const rules: Rule[] = [];
  if (isStrict(mode)) clauses.push([notPrincipalsPresence]);
  // What a port inherits when the workload mode is UNSET: the namespace mode, else the mesh mode.
  const parentStrict = (nsPa !== undefined && isStrict(nsPa.mode)) ||
    ((nsPa === undefined || isUnset(nsPa.mode)) && rootPa !== undefined && isStrict(rootPa.mode));
  let foundNonStrictPort = false;
  for (const { port, mode: portMode } of pa.portLevelMtls) {
    if (isStrict(portMode)) {
      if (isStrict(mode) || (isUnset(mode) && parentStrict)) continue; // enforced by the parent policy
      rules.push([[{ ...notPrincipalsPresence, destinationPorts: [port] }]]);
    } else if (isLax(portMode)) {
      if (isLax(mode)) continue;
      if (isUnset(mode) && !parentStrict) continue;
      foundNonStrictPort = true;
      clauses.push([{ ...emptyMatch(), notDestinationPorts: [port] }]);
    }
  }
  if (isStrict(mode) && !foundNonStrictPort) return undefined;
  if (clauses.length === 0 && rules.length === 0) return undefined;
  const mergeStrict = (rootPa !== undefined && isStrict(rootPa.mode) &&
    (nsPa === undefined || isUnset(nsPa.mode) || isStrict(nsPa.mode))) ||
    (nsPa !== undefined && isStrict(nsPa.mode));
  if (mergeStrict && foundNonStrictPort) clauses.push([notPrincipalsPresence]);
  if (clauses.length > 0) rules.push(clauses);
  return {
    name: `${CONVERTED_PEER_AUTHENTICATION_PREFIX}${pa.name}`,
    namespace: pa.namespace,
    scope: "WorkloadSelector",
    action: "Deny",
    rules,
    dryRun: false,
  };
}

/**
 * istiod's `convertedSelectorPeerAuthentications`: the PeerAuthentication-derived policy keys a
 * workload lists, given the PeerAuthentications that reach it, oldest first.
 */
export function peerAuthenticationKeys(rootNamespace: string, pas: readonly PeerAuthn[]): string[] {
  const mesh = pas.find((p) => !hasLabels(p.selector) && p.namespace === rootNamespace);
  const ns = pas.find((p) => !hasLabels(p.selector) && p.namespace !== rootNamespace);
  const wl = pas.find((p) => hasLabels(p.selector) && p.namespace !== rootNamespace);
  let strict = mesh ? isStrict(mesh.mode) : false;
  if (ns && !isUnset(ns.mode)) strict = isStrict(ns.mode);
  let portKey: string | undefined;
  if (wl) {
    if (isStrict(wl.mode)) strict = true;
    if (isLax(wl.mode)) strict = false;
    if (wl.portLevelMtls.length > 0) {
      const anyLax = wl.portLevelMtls.some((p) => isLax(p.mode));
      const anyStrict = wl.portLevelMtls.some((p) => isStrict(p.mode));
      if (isStrict(wl.mode) || (isUnset(wl.mode) && strict)) {
        if (anyLax) {
          portKey = convertedPeerAuthenticationKey(wl);
          strict = false; // the converted policy carries the STRICT default itself
        }
      } else if (anyStrict) {
        portKey = convertedPeerAuthenticationKey(wl);
      }
    }
  }
  const keys = new Set<string>();
  if (strict) keys.add(`${rootNamespace}/${STATIC_STRICT_POLICY_NAME}`);
  if (portKey) keys.add(portKey);
  return [...keys].sort();
}
