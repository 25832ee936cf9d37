/** How services sharing an address or a hostname are ordered for one client. */
import { type Service, serviceKey } from "./types.ts";

/**
 * Ranks services sharing an address or hostname as ztunnel does: services in the client's namespace,
 * then `canonical` ones, then any (ties by key, for determinism). `visibility: Namespace` services are
 * hidden from other namespaces (and from callers that give no namespace).
 */
export function rankServices(services: Iterable<Service>, clientNamespace?: string): Service[] {
  const visible = [...services].filter((s) =>
    s.visibility !== "Namespace" || s.namespace === clientNamespace
  );
  const score = (s: Service) => (s.namespace === clientNamespace ? 2 : 0) + (s.canonical ? 1 : 0);
  return visible.sort((a, b) =>
    score(b) - score(a) || (serviceKey(a) < serviceKey(b) ? -1 : serviceKey(a) > serviceKey(b) ? 1 : 0)
  );
}
