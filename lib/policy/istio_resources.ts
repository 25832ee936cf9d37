/** Shapes and selectors shared by the Istio (security.istio.io) conversions. */
import { asFields, asStringMap, checkKeys, fail } from "./fields.ts";

/** The parts of a Kubernetes object's metadata the conversions use. */
export interface DocMeta {
  readonly kind: string;
  readonly name: string;
  /** metadata.namespace, "default" when missing. */
  readonly namespace: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** metadata.creationTimestamp, when given (RFC 3339). */
  readonly creationTimestamp?: string;
}

/** A WORKLOAD_SELECTOR policy's selector: it binds to workloads of `namespace` (or any, from the root namespace). */
export interface PolicySelector {
  /** `ns/name` of the converted policy. */
  readonly key: string;
  readonly namespace: string;
  /** Empty: the selector selects no workload (istiod attaches nothing). */
  readonly matchLabels: Readonly<Record<string, string>>;
}

export type MtlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

/** A PeerAuthentication, parsed and validated. */
export interface PeerAuthn {
  readonly name: string;
  readonly namespace: string;
  /** undefined: no `selector` at all; `{}`: a selector without labels (both are namespace/mesh level). */
  readonly selector?: Readonly<Record<string, string>>;
  readonly mode: MtlsMode;
  /** Sorted by port. */
  readonly portLevelMtls: readonly { readonly port: number; readonly mode: MtlsMode }[];
}

export function hasLabels(selector: Readonly<Record<string, string>> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0;
}

/** Kubernetes label selection: every selector label present with the same value. */
export function labelsMatch(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/**
 * `selector: {matchLabels: {...}}` as Istio validates it: no empty keys, no wildcards.
 * Returns undefined when there is no selector.
 */
export function parseSelector(raw: unknown, path: string): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  const obj = asFields(raw, path);
  checkKeys(obj, ["matchLabels"], path);
  const labels = obj.matchLabels === undefined || obj.matchLabels === null
    ? {}
    : asStringMap(obj.matchLabels, `${path}.matchLabels`);
  for (const [k, v] of Object.entries(labels)) {
    if (k === "") fail(`${path}.matchLabels`, `empty key is not supported in selector: "=${v}"`);
    if (k.includes("*") || v.includes("*")) {
      fail(`${path}.matchLabels`, `wildcard is not supported in selector: "${k}=${v}"`);
    }
  }
  return labels;
}
