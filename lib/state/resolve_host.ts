/**
 * Resolves a domain name against the mesh's service hostnames (SOCKS5 domain targets), before system DNS.
 * Kubernetes short forms follow a pod's resolv.conf search path: `<ns>.svc.<domain>`, `svc.<domain>`,
 * `<domain>`, then the name itself.
 */
import { ipFamily } from "./ip.ts";
import type { ProxyState } from "./proxy_state.ts";
import type { Service } from "./types.ts";

export interface ResolvedHost {
  readonly service: Service;
  readonly ip: string;
}

/** The hostnames tried for `name`, in order. */
export function searchNames(
  name: string,
  clientNamespace: string,
  clusterDomain = "cluster.local",
): string[] {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  if (n === "") return [];
  if (n.endsWith(`.${clusterDomain}`)) return [n];
  const names = [
    `${n}.${clientNamespace}.svc.${clusterDomain}`,
    `${n}.svc.${clusterDomain}`,
    `${n}.${clusterDomain}`,
    n,
  ];
  return [...new Set(names)];
}

function preferV4(ips: readonly string[]): string | undefined {
  return ips.find((ip) => ipFamily(ip) === 4) ?? ips[0];
}

/** The IP to connect to for a service: its first host VIP (IPv4 first); for a headless one, a healthy endpoint's IP. */
function serviceIp(state: ProxyState, svc: Service): string | undefined {
  const vip = preferV4(svc.vips.filter((v) => v.length === undefined).map((v) => v.address));
  if (vip !== undefined) return vip;
  for (const ep of state.endpoints(`${svc.namespace}/${svc.hostname}`)) {
    if (ep.workload.status !== "Healthy") continue;
    const ip = preferV4(ep.workload.workloadIps);
    if (ip !== undefined) return ip;
  }
  return undefined;
}

/** A mesh service named `name` as seen from `clientNamespace`, and the IP to dial; undefined when none. */
export function resolveMeshHost(
  state: ProxyState,
  name: string,
  clientNamespace: string,
  clusterDomain = "cluster.local",
): ResolvedHost | undefined {
  for (const host of searchNames(name, clientNamespace, clusterDomain)) {
    for (const service of state.servicesByHostname(host, clientNamespace)) {
      const ip = serviceIp(state, service);
      if (ip !== undefined) return { service, ip };
    }
  }
  return undefined;
}
