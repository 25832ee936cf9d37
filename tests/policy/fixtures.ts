/** Small builders for policy tests. */
import YAML from "yaml";
import type { Identity } from "../../lib/identity/spiffe.ts";
import type {
  Action,
  Authorization,
  RbacConnection,
  RbacMatch,
  Rule,
  Scope,
} from "../../lib/policy/model.ts";
import { emptyMatch } from "../../lib/policy/model.ts";

export function match(fields: Partial<RbacMatch>): RbacMatch {
  return { ...emptyMatch(), ...fields };
}

export function policy(
  name: string,
  opts: { namespace?: string; scope?: Scope; action?: Action; rules?: Rule[]; dryRun?: boolean } = {},
): Authorization {
  return {
    name,
    namespace: opts.namespace ?? "ns",
    scope: opts.scope ?? "Namespace",
    action: opts.action ?? "Allow",
    rules: opts.rules ?? [],
    dryRun: opts.dryRun ?? false,
  };
}

export function id(namespace: string, serviceAccount: string, trustDomain = "cluster.local"): Identity {
  return { trustDomain, namespace, serviceAccount };
}

/** ztunnel's rbac.rs test connections. */
export const plaintext: RbacConnection = { srcIp: "127.0.0.1", dstIp: "127.0.0.2", dstPort: 8080 };
export const tls: RbacConnection = {
  srcIp: "127.0.0.1",
  srcIdentity: id("namespace", "account", "td"),
  dstIp: "127.0.0.2",
  dstPort: 8080,
};
export const tlsAlt: RbacConnection = {
  srcIp: "127.0.0.3",
  srcIdentity: id("ns-alt", "sa=alt", "td-alt"),
  dstIp: "127.0.0.4",
  dstPort: 9090,
};

export function conn(
  srcIp: string,
  identity: Identity | undefined,
  dstIp: string,
  dstPort: number,
): RbacConnection {
  return identity ? { srcIp, srcIdentity: identity, dstIp, dstPort } : { srcIp, dstIp, dstPort };
}

/** Parses a multi-document YAML string into plain documents, as `kubectl apply -f` reads a file. */
export function yamlDocs(text: string): unknown[] {
  return YAML.parseAllDocuments(text).map((d) => d.toJS()).filter((d) => d !== null);
}
