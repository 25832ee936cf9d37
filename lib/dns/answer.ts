/**
 * Which names zt's DNS proxy answers itself, and with what — ztunnel's rules as a pure function of the
 * mesh state, the asking pod and the question (inpod-dns-facts §6.3):
 *
 * - only A and AAAA are answered locally; every other type is forwarded;
 * - candidates: the name as asked, its Kubernetes expansions relative to the pod's namespace, then the
 *   name with each search domain (`<ns>.svc.<cd>`, `svc.<cd>`, `<cd>`) stripped, and their expansions;
 * - each candidate is tried as itself, then as wildcards of decreasing specificity; the first hit wins;
 * - a service hits when it has a VIP or is a Kubernetes (headless) service, and is visible to the pod;
 * - VIPs on the pod's network, or one IP per endpoint workload of a headless service; a hit without
 *   addresses is an empty authoritative answer (NODATA), never NXDOMAIN;
 * - a hit found by stripping a search domain (not through a wildcard) answers with a CNAME to the
 *   stripped name, whose A/AAAA records follow.
 */
import type { Endpoint } from "../state/workload_index.ts";
import { ipFamily } from "../state/ip.ts";
import { type Service, serviceKey, type Workload } from "../state/types.ts";
import { plainLabels } from "./dns_name.ts";
import { RType } from "./dns_types.ts";

/** ztunnel's DEFAULT_TTL_SECONDS, on every locally generated record. */
export const LOCAL_TTL_SECONDS = 30;

/** The part of the state the rules read (ProxyState has it). */
export interface DnsStateView {
  /** Services with this hostname visible to `clientNamespace`, best first. */
  servicesByHostname(hostname: string, clientNamespace?: string): Service[];
  endpoints(key: string): readonly Endpoint[];
}

export interface AnswerOptions {
  readonly clusterDomain: string;
  /** IPV6_ENABLED: without it, AAAA gets an empty answer for mesh names. */
  readonly ipv6Enabled: boolean;
  /** PREFERED_SERVICE_NAMESPACE (ztunnel's spelling): tie-break among same-hostname services. */
  readonly preferredNamespace?: string;
}

export type LocalResult = "success" | "no records" | "service does not support this record type";

export interface LocalAnswer {
  readonly kind: "local";
  readonly result: LocalResult;
  /** `ns/hostname` of the service that matched. */
  readonly service: string;
  /** Set when the name matched with a search domain stripped: requested name → stripped name. */
  readonly cname?: { readonly from: string; readonly to: string };
  /** The owner name of the address records: the requested name, or the CNAME's target. */
  readonly recordName: string;
  /** Addresses of the asked family, in state order (the caller shuffles). */
  readonly addresses: readonly string[];
}

export type Answer =
  | LocalAnswer
  | { readonly kind: "forward"; readonly reason: "record type" | "not a mesh name" };

interface Alias {
  readonly labels: readonly string[];
  /** The requested name with a search domain stripped, when this alias came from one. */
  readonly stripped?: readonly string[];
}

const lower = (labels: readonly string[]) => labels.map((l) => l.toLowerCase());

/** `name` ends with `domain` (case-insensitive) and has labels before it. */
function endsWithDomain(name: readonly string[], domain: readonly string[]): boolean {
  if (name.length <= domain.length) return false;
  const skip = name.length - domain.length;
  return domain.every((l, i) => name[skip + i].toLowerCase() === l);
}

/** ztunnel's to_kube_fqdns: the Kubernetes FQDNs a short name may stand for. */
export function kubeExpansions(
  name: readonly string[],
  namespace: string,
  clusterDomain: string,
): string[][] {
  const cd = clusterDomain.split(".");
  const svcCd = ["svc", ...cd];
  const nsSvcCd = [namespace, ...svcCd];
  const last = name[name.length - 1]?.toLowerCase();
  switch (name.length) {
    case 1:
      return [[...name, ...nsSvcCd]];
    case 2:
      return [[...name, ...svcCd], [...name, ...nsSvcCd]];
    case 3:
      return last === "svc" ? [[...name, ...cd], [...name, ...svcCd]] : [[...name, ...svcCd]];
    case 4:
      return last === "svc" ? [[...name, ...cd]] : [];
    default:
      return [];
  }
}

/** The hard-coded per-pod search domains of ztunnel's shared mode. */
export function searchDomains(namespace: string, clusterDomain: string): string[][] {
  const cd = clusterDomain.toLowerCase().split(".");
  return [[namespace.toLowerCase(), "svc", ...cd], ["svc", ...cd], cd];
}

/** Candidate names for `labels` asked by a pod in `namespace`, in ztunnel's order, each once. */
export function aliases(labels: readonly string[], namespace: string, clusterDomain: string): Alias[] {
  const out: Alias[] = [];
  const seen = new Set<string>();
  const add = (a: Alias) => {
    const key = lower(a.labels).join(".");
    if (!seen.has(key)) {
      seen.add(key);
      out.push(a);
    }
  };
  add({ labels });
  for (const e of kubeExpansions(labels, namespace, clusterDomain)) add({ labels: e });
  for (const domain of searchDomains(namespace, clusterDomain)) {
    if (!endsWithDomain(labels, domain)) continue;
    const stripped = labels.slice(0, labels.length - domain.length);
    add({ labels: stripped, stripped });
    for (const e of kubeExpansions(stripped, namespace, clusterDomain)) add({ labels: e, stripped });
  }
  return out;
}

/** `a.b.c` → `a.b.c`, `*.b.c`, `*.c` (lowercased). */
export function wildcards(labels: readonly string[]): string[] {
  const l = lower(labels);
  const out = [l.join(".")];
  for (let i = 1; i < l.length; i++) out.push(["*", ...l.slice(i)].join("."));
  return out;
}

/** ztunnel's find_best_match over candidates already ranked by the state. */
function bestService(services: readonly Service[], client: string, preferred?: string): Service | undefined {
  const local = services.find((s) => s.namespace === client);
  if (local) return local;
  const canonical = services.filter((s) => s.canonical);
  if (canonical.length) return canonical[canonical.length - 1];
  return (preferred ? services.find((s) => s.namespace === preferred) : undefined) ?? services[0];
}

function findService(
  state: DnsStateView,
  client: Workload,
  labels: readonly string[],
  o: AnswerOptions,
): { service: Service; alias: Alias; wildcard: boolean } | undefined {
  const headlessSuffix = `.svc.${o.clusterDomain.toLowerCase()}`;
  for (const alias of aliases(labels, client.namespace, o.clusterDomain)) {
    for (const host of wildcards(alias.labels)) {
      const candidates = state.servicesByHostname(host, client.namespace)
        .filter((s) => s.vips.length > 0 || s.hostname.toLowerCase().endsWith(headlessSuffix));
      const service = bestService(candidates, client.namespace, o.preferredNamespace);
      if (service) return { service, alias, wildcard: host.startsWith("*.") };
    }
  }
  return undefined;
}

function familyAllowed(s: Service, type: number, ipv6Enabled: boolean): boolean {
  if (type === RType.AAAA && !ipv6Enabled) return false;
  if (s.ipFamilies === "IPv4Only" && type === RType.AAAA) return false;
  if (s.ipFamilies === "IPv6Only" && type === RType.A) return false;
  return true;
}

function addresses(state: DnsStateView, client: Workload, s: Service, type: number, ipv6: boolean): string[] {
  const family = type === RType.A ? 4 : 6;
  if (family === 6 && !ipv6) return [];
  if (s.vips.length === 0) {
    const out: string[] = [];
    for (const ep of state.endpoints(serviceKey(s))) {
      const ip = ep.workload.workloadIps.find((a) => ipFamily(a) === family);
      if (ip !== undefined) out.push(ip);
    }
    return out;
  }
  return s.vips
    .filter((v) => v.network === client.network && ipFamily(v.address) === family)
    .filter((v) => v.length === undefined || v.length === (family === 4 ? 32 : 128))
    .map((v) => v.address);
}

/** What the DNS proxy does with `question` asked by `client`: answer it locally, or forward it. */
export function answerQuestion(
  state: DnsStateView,
  client: Workload,
  question: { readonly name: string; readonly type: number },
  o: AnswerOptions,
): Answer {
  if (question.type !== RType.A && question.type !== RType.AAAA) {
    return { kind: "forward", reason: "record type" };
  }
  const labels = plainLabels(question.name);
  if (!labels || labels.length === 0) return { kind: "forward", reason: "not a mesh name" };
  const hit = findService(state, client, labels, o);
  if (!hit) return { kind: "forward", reason: "not a mesh name" };
  const service = serviceKey(hit.service);
  const requested = labels.join(".");
  const cname = hit.alias.stripped && !hit.wildcard
    ? { from: requested, to: hit.alias.stripped.join(".") }
    : undefined;
  const recordName = cname?.to ?? requested;
  if (!familyAllowed(hit.service, question.type, o.ipv6Enabled)) {
    return {
      kind: "local",
      result: "service does not support this record type",
      service,
      recordName,
      addresses: [],
    };
  }
  const addrs = addresses(state, client, hit.service, question.type, o.ipv6Enabled);
  if (addrs.length === 0) return { kind: "local", result: "no records", service, recordName, addresses: [] };
  return { kind: "local", result: "success", service, cname, recordName, addresses: addrs };
}
