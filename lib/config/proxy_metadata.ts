/** The xDS node metadata zt takes from its environment: ISTIO_META_* variables and PROXY_CONFIG's proxyMetadata. */
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./parse.ts";
import type { Env } from "./settings.ts";

/** The `ISTIO_META_*` and `ISTIO_METAJSON_*` variables, verbatim. */
export function istioMetaEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && /^ISTIO_META(JSON)?_./.test(k)) out[k] = v;
  }
  return out;
}

/** `proxyMetadata` of a PROXY_CONFIG YAML document (values as strings); {} when unset. */
export function proxyMetadata(text: string | undefined): Record<string, string> {
  if (!text?.trim()) return {};
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError("PROXY_CONFIG", text.slice(0, 40), `invalid YAML: ${(e as Error).message}`);
  }
  const meta = (doc as { proxyMetadata?: unknown } | null)?.proxyMetadata;
  if (meta === undefined || meta === null) return {};
  if (typeof meta !== "object" || Array.isArray(meta)) {
    throw new ConfigError("PROXY_CONFIG", text.slice(0, 40), "proxyMetadata must be a map");
  }
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)]));
}
