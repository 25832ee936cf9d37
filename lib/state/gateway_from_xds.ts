/**
 * The shared pieces of istio.workload.Address conversion: network addresses (host or CIDR),
 * gateway addresses (waypoints, network gateways) and port lists. Throw ZtError("xds") naming
 * the field.
 */
import { ZtError } from "../error.ts";
import { hasField } from "../xds/proto.ts";
import { formatIpBytes } from "./ip.ts";
import type { GatewayAddress, NetworkAddress, NetworkCidr, PortMap } from "./types.ts";
import type { XdsGatewayAddress, XdsNetworkAddress, XdsPort } from "./workload_xds_types.ts";

function fail(field: string, reason: string): never {
  throw new ZtError("xds", `${field}: ${reason}`);
}

/** 4 or 16 bytes → canonical IP text (state's form: IPv4-mapped IPv6 folds to IPv4). */
export function ipFromXds(field: string, bytes: Uint8Array | undefined): string {
  const b = bytes ?? new Uint8Array();
  if (b.length !== 4 && b.length !== 16) fail(field, `invalid IP length ${b.length} (want 4 or 16 bytes)`);
  return formatIpBytes(b);
}

/** A host address (a prefix length, if any, is ignored, as ztunnel does for gateways). */
export function networkAddressFromXds(field: string, a: XdsNetworkAddress): NetworkAddress {
  return { network: a.network ?? "", address: ipFromXds(`${field}.address`, a.address) };
}

/** A service VIP: a host, or a CIDR when `length` is present. */
export function networkCidrFromXds(field: string, a: XdsNetworkAddress): NetworkCidr {
  const address = ipFromXds(`${field}.address`, a.address);
  if (!hasField(a, "length")) return { network: a.network ?? "", address };
  const max = address.includes(":") ? 128 : 32;
  const length = a.length!;
  if (length > max) fail(`${field}.length`, `prefix length ${length} exceeds ${max}`);
  return { network: a.network ?? "", address, length };
}

export function gatewayFromXds(field: string, g: XdsGatewayAddress): GatewayAddress {
  const hboneMtlsPort = g.hboneMtlsPort ?? 0;
  if (hboneMtlsPort > 65535) fail(`${field}.hbone_mtls_port`, `invalid port ${hboneMtlsPort}`);
  if (g.address) {
    return {
      destination: { kind: "address", address: networkAddressFromXds(`${field}.address`, g.address) },
      hboneMtlsPort,
    };
  }
  if (g.hostname) {
    const { namespace = "", hostname = "" } = g.hostname;
    if (!hostname) fail(`${field}.hostname.hostname`, "empty");
    return { destination: { kind: "hostname", hostname: { namespace, hostname } }, hboneMtlsPort };
  }
  return fail(`${field}.destination`, "neither hostname nor address is set");
}

/** Repeated Port → servicePort → targetPort (0 = named port). */
export function portMapFromXds(field: string, ports: readonly XdsPort[]): PortMap {
  const out = new Map<number, number>();
  ports.forEach((p, i) => {
    const sp = p.servicePort ?? 0, tp = p.targetPort ?? 0;
    if (sp > 65535) fail(`${field}[${i}].service_port`, `invalid port ${sp}`);
    if (tp > 65535) fail(`${field}[${i}].target_port`, `invalid port ${tp}`);
    out.set(sp, tp);
  });
  return out;
}
