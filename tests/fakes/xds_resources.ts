/**
 * istio.workload.Address / istio.security.Authorization resources as istiod sends them, for the
 * fake istiod's pushes and the handler tests: names, versions and encoded bodies.
 */
import { encodeAuthorization, type XdsMatch } from "../../lib/policy/authorization_from_xds.ts";
import { ipBytes } from "../../lib/state/ip.ts";
import { encodeAddress } from "../../lib/state/workload_from_xds.ts";
import type { FakeResource } from "./fake_istiod.ts";

export interface PodResource {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly node: string;
  readonly serviceAccount?: string;
  /** `ns/hostname` → {servicePort: targetPort}. */
  readonly services?: Record<string, Record<number, number>>;
  readonly policies?: string[];
  readonly version?: string;
  /** HBONE (1, the default) or NONE (0). */
  readonly tunnelProtocol?: number;
}

export function podUid(p: { name: string; namespace: string }): string {
  return `Kubernetes//Pod/${p.namespace}/${p.name}`;
}

function portList(m: Record<number, number>) {
  return Object.entries(m).map(([s, t]) => ({ servicePort: Number(s), targetPort: t }));
}

function ip(s: string): Uint8Array {
  const b = ipBytes(s);
  if (!b) throw new Error(`bad IP ${s}`);
  return b;
}

/** A Workload resource named by its uid, with its `/ip` alias. */
export function podResource(p: PodResource): FakeResource {
  const uid = podUid(p);
  return {
    name: uid,
    version: p.version ?? "1",
    aliases: [`/${p.ip}`],
    body: encodeAddress({
      workload: {
        uid,
        name: p.name,
        namespace: p.namespace,
        addresses: [ip(p.ip)],
        tunnelProtocol: p.tunnelProtocol ?? 1,
        serviceAccount: p.serviceAccount ?? p.name.replace(/-\d+$/, ""),
        node: p.node,
        canonicalName: p.name.replace(/-\d+$/, ""),
        canonicalRevision: "latest",
        workloadName: p.name.replace(/-\d+$/, ""),
        clusterId: "Kubernetes",
        services: Object.fromEntries(
          Object.entries(p.services ?? {}).map(([k, m]) => [k, { ports: portList(m) }]),
        ),
        authorizationPolicies: p.policies ?? [],
      },
    }),
  };
}

export interface ServiceResource {
  readonly name: string;
  readonly namespace: string;
  readonly vip: string;
  readonly ports: Record<number, number>;
  readonly version?: string;
}

export function serviceHostname(s: { name: string; namespace: string }): string {
  return `${s.name}.${s.namespace}.svc.cluster.local`;
}

/** A Service resource named `ns/hostname`, with its `/vip` alias. */
export function serviceResource(s: ServiceResource): FakeResource {
  const hostname = serviceHostname(s);
  return {
    name: `${s.namespace}/${hostname}`,
    version: s.version ?? "1",
    aliases: [`/${s.vip}`],
    body: encodeAddress({
      service: {
        name: s.name,
        namespace: s.namespace,
        hostname,
        addresses: [{ network: "", address: ip(s.vip) }],
        ports: portList(s.ports),
      },
    }),
  };
}

export interface PolicyResource {
  readonly name: string;
  readonly namespace: string;
  /** GLOBAL 0, NAMESPACE 1, WORKLOAD_SELECTOR 2. */
  readonly scope: number;
  /** ALLOW 0, DENY 1. */
  readonly action: number;
  readonly matches: XdsMatch[];
  readonly version?: string;
}

/** An Authorization resource named `ns/name`: one rule, one clause, the given matches (OR). */
export function policyResource(p: PolicyResource): FakeResource {
  return {
    name: `${p.namespace}/${p.name}`,
    version: p.version ?? "1",
    body: encodeAuthorization({
      name: p.name,
      namespace: p.namespace,
      scope: p.scope,
      action: p.action,
      rules: [{ clauses: [{ matches: p.matches }] }],
    }),
  };
}
