/**
 * Istio's own security.istio.io/v1 and v1beta1 documents (AuthorizationPolicy, PeerAuthentication),
 * exactly as `kubectl apply` takes them, converted the way istiod converts them for ztunnel.
 * A bad document goes to `errors` (named `<kind> <ns>/<name>: …`) and is not applied; the rest are.
 */
import { errorMessage, ZtError } from "../error.ts";
import { bindPolicies } from "./bind_policies.ts";
import { convertAuthorizationPolicy } from "./convert_authorization_policy.ts";
import { parsePeerAuthentication } from "./convert_peer_authentication.ts";
import { isFields } from "./fields.ts";
import type { DocMeta, PeerAuthn, PolicySelector } from "./istio_resources.ts";
import type { Authorization } from "./model.ts";

export { bindPolicies };
export type { DocMeta, MtlsMode, PeerAuthn, PolicySelector } from "./istio_resources.ts";

export interface IstioConversion {
  policies: Authorization[];
  selectors: PolicySelector[];
  /** Oldest first (metadata.creationTimestamp, then document order). */
  peerAuthentications: PeerAuthn[];
  warnings: string[];
  errors: string[];
}

export interface IstioConversionOptions {
  /** Istio's root namespace (meshConfig.rootNamespace), usually `istio-system`. */
  readonly rootNamespace: string;
  /** Send `istio.io/dry-run` policies as dry-run (default true); false drops them like istiod's default. */
  readonly enableDryRun?: boolean;
}

export const SECURITY_API_VERSIONS: readonly string[] = ["security.istio.io/v1", "security.istio.io/v1beta1"];

function stringRecord(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isFields(raw)) { for (const [k, v] of Object.entries(raw)) if (typeof v === "string") out[k] = v; }
  return out;
}

function readMeta(doc: Record<string, unknown>, index: number): DocMeta {
  const kind = typeof doc.kind === "string" ? doc.kind : "";
  const md = isFields(doc.metadata) ? doc.metadata : {};
  const name = typeof md.name === "string" ? md.name : "";
  const namespace = typeof md.namespace === "string" && md.namespace !== "" ? md.namespace : "default";
  const ts = md.creationTimestamp;
  const creationTimestamp = typeof ts === "string" ? ts : ts instanceof Date ? ts.toISOString() : undefined;
  if (!kind) throw new ZtError("config", `document ${index}: missing kind`);
  if (!name) {
    throw new ZtError("config", `${kind} ${namespace}/<unnamed> (document ${index}): missing metadata.name`);
  }
  return { kind, name, namespace, annotations: stringRecord(md.annotations), creationTimestamp };
}

interface Entry<T> {
  readonly meta: DocMeta;
  readonly order: number;
  readonly value: T;
}

/** Later documents with the same kind/ns/name replace earlier ones, like successive applies. */
function upsert<T>(list: Entry<T>[], entry: Entry<T>, warnings: string[]): void {
  const at = list.findIndex((e) =>
    e.meta.namespace === entry.meta.namespace && e.meta.name === entry.meta.name
  );
  if (at < 0) list.push(entry);
  else {
    warnings.push(
      `${entry.meta.kind} ${entry.meta.namespace}/${entry.meta.name}: defined twice, the later one wins`,
    );
    list[at] = { ...entry, order: list[at].order };
  }
}

/** Oldest first: a missing timestamp is Kubernetes' zero time (oldest); ties keep document order. */
function age<T>(e: Entry<T>): number {
  const t = e.meta.creationTimestamp ? Date.parse(e.meta.creationTimestamp) : NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

function byAge<T>(a: Entry<T>, b: Entry<T>): number {
  const ta = age(a);
  const tb = age(b);
  return ta === tb ? a.order - b.order : ta < tb ? -1 : 1;
}

export function convertIstioDocuments(docs: unknown[], opts: IstioConversionOptions): IstioConversion {
  const warnings: string[] = [];
  const errors: string[] = [];
  const aps: Entry<{ policy: Authorization; selector?: PolicySelector }>[] = [];
  const pas: Entry<PeerAuthn>[] = [];
  docs.forEach((doc, index) => {
    let label = "";
    try {
      if (!isFields(doc)) throw new ZtError("config", `document ${index}: expected a Kubernetes object`);
      const meta = readMeta(doc, index);
      label = `${meta.kind} ${meta.namespace}/${meta.name}`;
      const apiVersion = typeof doc.apiVersion === "string" ? doc.apiVersion : "";
      if (!SECURITY_API_VERSIONS.includes(apiVersion)) {
        throw new ZtError(
          "config",
          `unsupported apiVersion ${JSON.stringify(apiVersion)} (expected ${
            SECURITY_API_VERSIONS.join(" or ")
          })`,
        );
      }
      for (const k of Object.keys(doc)) {
        if (!["apiVersion", "kind", "metadata", "spec", "status"].includes(k)) {
          throw new ZtError("config", `unknown field ${JSON.stringify(k)}`);
        }
      }
      const note = (w: string) => warnings.push(`${label}: ${w}`);
      switch (meta.kind) {
        case "AuthorizationPolicy": {
          const conv = convertAuthorizationPolicy(meta, doc.spec, opts);
          conv.warnings.forEach(note);
          if (conv.policy) {
            upsert(
              aps,
              { meta, order: index, value: { policy: conv.policy, selector: conv.selector } },
              warnings,
            );
          }
          break;
        }
        case "PeerAuthentication": {
          const { pa, warnings: ws } = parsePeerAuthentication(meta, doc.spec);
          ws.forEach(note);
          upsert(pas, { meta, order: index, value: pa }, warnings);
          break;
        }
        case "RequestAuthentication":
          note("JWT authentication is enforced by waypoints, not by ztunnel: ignored");
          break;
        default:
          throw new ZtError(
            "config",
            `unsupported kind (expected AuthorizationPolicy or PeerAuthentication)`,
          );
      }
    } catch (e) {
      if (!(e instanceof ZtError)) throw e;
      const msg = errorMessage(e);
      errors.push(label ? `${label}: ${msg}` : msg);
    }
  });
  const policies = aps.map((e) => e.value.policy);
  const selectors = aps.flatMap((e) => e.value.selector ? [e.value.selector] : []);
  return {
    policies,
    selectors,
    peerAuthentications: [...pas].sort(byAge).map((e) => e.value),
    warnings,
    errors,
  };
}
