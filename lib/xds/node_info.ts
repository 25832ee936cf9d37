/**
 * The xDS Node zt presents to istiod, built exactly as ztunnel builds it from its environment:
 * id `ztunnel~<INSTANCE_IP>~<POD_NAME>.<POD_NAMESPACE>~<POD_NAMESPACE>.svc.cluster.local` (the
 * `ztunnel~` prefix is what makes istiod treat the client as a ztunnel) and metadata NAME,
 * NAMESPACE, INSTANCE_IPS, NODE_NAME, every ISTIO_META_<K> as K, proxyMetadata entries and every
 * ISTIO_METAJSON_<K> parsed as JSON.
 */

export interface NodeInfo {
  readonly id: string;
  /** JSON values; sent as a google.protobuf.Struct. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** ISTIO_METAJSON_* values that were not valid JSON (skipped, for the caller to log). */
  readonly errors: readonly string[];
}

const DEFAULT_IP = "1.1.1.1";
const META_PREFIX = "ISTIO_META_";
const METAJSON_PREFIX = "ISTIO_METAJSON_";

/**
 * Pure: `env` is the process environment (or a test's); `proxyMetadata` the mesh config's /
 * PROXY_CONFIG's proxyMetadata (an `ISTIO_META_` prefix on its keys is stripped).
 */
export function buildNodeInfo(
  env: Readonly<Record<string, string | undefined>>,
  proxyMetadata: Readonly<Record<string, string>> = {},
): NodeInfo {
  const ip = env.INSTANCE_IP || DEFAULT_IP;
  const podName = env.POD_NAME ?? "";
  const ns = env.POD_NAMESPACE ?? "";
  const metadata: Record<string, unknown> = {
    NAME: podName,
    NAMESPACE: ns,
    INSTANCE_IPS: ip,
    NODE_NAME: env.NODE_NAME ?? "",
  };
  for (const [k, v] of Object.entries(proxyMetadata)) {
    metadata[k.startsWith(META_PREFIX) ? k.slice(META_PREFIX.length) : k] = v;
  }
  const keys = Object.keys(env).sort();
  for (const k of keys) {
    const v = env[k];
    if (v !== undefined && k.startsWith(META_PREFIX) && k.length > META_PREFIX.length) {
      metadata[k.slice(META_PREFIX.length)] = v;
    }
  }
  const errors: string[] = [];
  for (const k of keys) {
    const v = env[k];
    if (v === undefined || !k.startsWith(METAJSON_PREFIX) || k.length === METAJSON_PREFIX.length) continue;
    try {
      metadata[k.slice(METAJSON_PREFIX.length)] = JSON.parse(v);
    } catch {
      errors.push(`failed to parse ${k}=${v}`);
    }
  }
  return { id: `ztunnel~${ip}~${podName}.${ns}~${ns}.svc.cluster.local`, metadata, errors };
}
