/** SPIFFE identities as Istio uses them: spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>. */
export interface Identity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const PREFIX = "spiffe://";

/** Formats an identity as its URI, e.g. `spiffe://cluster.local/ns/default/sa/sleep`. */
export function formatIdentity(id: Identity): string {
  return `${PREFIX}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** Parses a SPIFFE URI; returns undefined when it is not of Istio's ns/sa form. */
export function parseIdentity(uri: string): Identity | undefined {
  if (!uri.startsWith(PREFIX)) return undefined;
  const parts = uri.slice(PREFIX.length).split("/");
  if (parts.length !== 5 || parts[1] !== "ns" || parts[3] !== "sa") return undefined;
  const [trustDomain, , namespace, , serviceAccount] = parts;
  if (!trustDomain || !namespace || !serviceAccount) return undefined;
  return { trustDomain, namespace, serviceAccount };
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.trustDomain === b.trustDomain && a.namespace === b.namespace &&
    a.serviceAccount === b.serviceAccount;
}
