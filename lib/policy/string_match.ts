/**
 * String matches as Istio writes them (`*`, `x*`, `*x`, exact) and as ztunnel evaluates them.
 * Principals are compared without `spiffe://`; a connection without an identity matches no principal.
 */
import type { StringMatch } from "./model.ts";

/** istiod's `stringToMatch`: `*` → Presence, `*x` → Suffix x, `x*` → Prefix x, anything else → Exact. */
export function stringMatchFromIstio(text: string): StringMatch {
  if (text === "*") return { kind: "presence" };
  if (text.startsWith("*")) return { kind: "suffix", value: text.slice(1) };
  if (text.endsWith("*")) return { kind: "prefix", value: text.slice(0, -1) };
  return { kind: "exact", value: text };
}

/** ztunnel's `StringMatch::matches`; Presence means "non-empty". */
export function matchString(m: StringMatch, value: string): boolean {
  switch (m.kind) {
    case "exact":
      return value === m.value;
    case "prefix":
      return value.startsWith(m.value);
    case "suffix":
      return value.endsWith(m.value);
    case "presence":
      return value !== "";
  }
}

/**
 * ztunnel's `matches_principal`: `principal` is the peer identity without `spiffe://`
 * (e.g. `cluster.local/ns/default/sa/sleep`); undefined (plaintext) never matches, not even Presence.
 */
export function matchPrincipal(m: StringMatch, principal: string | undefined): boolean {
  return principal !== undefined && matchString(m, principal);
}

/** The Istio text form, for explanations: `*`, `x*`, `*x` or the exact value. */
export function formatStringMatch(m: StringMatch): string {
  switch (m.kind) {
    case "exact":
      return m.value;
    case "prefix":
      return `${m.value}*`;
    case "suffix":
      return `*${m.value}`;
    case "presence":
      return "*";
  }
}
