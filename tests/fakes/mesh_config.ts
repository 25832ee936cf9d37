/** Small builders for the integration tests' mesh configs (LOCAL_XDS_PATH format) and payloads. */

export interface PodSpec {
  readonly name: string;
  readonly ip: string;
  readonly node: string;
  readonly namespace?: string;
  /** Default: the name without a trailing `-<n>`. */
  readonly serviceAccount?: string;
  readonly extra?: Record<string, unknown>;
}

export const TEST_NAMESPACE = "ops";

/** A mesh pod (HBONE) as the local config file declares it. */
export function meshPod(p: PodSpec): Record<string, unknown> {
  const namespace = p.namespace ?? TEST_NAMESPACE;
  return {
    uid: `Kubernetes//Pod/${namespace}/${p.name}`,
    name: p.name,
    namespace,
    serviceAccount: p.serviceAccount ?? p.name.replace(/-\d+$/, ""),
    workloadIps: [p.ip],
    protocol: "HBONE",
    node: p.node,
    ...p.extra,
  };
}

/** The SPIFFE identity zt gives a pod built by `meshPod`. */
export function spiffeOf(p: PodSpec): string {
  return `spiffe://cluster.local/ns/${p.namespace ?? TEST_NAMESPACE}/sa/${
    p.serviceAccount ?? p.name.replace(/-\d+$/, "")
  }`;
}

/** Deterministic pseudo-random bytes, so a corrupted or reordered byte shows up. */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
