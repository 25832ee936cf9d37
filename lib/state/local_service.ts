/**
 * One `services:` entry of the local config file → a {@link Service}. `name`, `namespace`, `hostname`,
 * `vips` and `ports` are required; `canonical` defaults to false and `visibility` to Public, as in ztunnel.
 * CIDR VIPs come as `vips` entries `network/ip/length` (zt) or as ztunnel's `cidrVips: [{network, cidr}]`;
 * `ipFamilies` takes ztunnel's `IPv4` / `IPv6` / `Dual` as well as zt's `IPv4Only` / `IPv6Only`.
 */
import {
  configError,
  expectBool,
  expectEnum,
  expectFields,
  expectGateway,
  expectInt,
  expectList,
  expectNetworkAddress,
  expectPortMap,
  expectString,
  expectStringList,
  isMapping,
  required,
} from "./config_fields.ts";
import type {
  HealthPolicy,
  LoadBalancer,
  LoadBalancingMode,
  LoadBalancingScope,
  NetworkCidr,
  Service,
  WeightedWaypoint,
} from "./types.ts";

const FIELDS = [
  "name",
  "namespace",
  "hostname",
  "vips",
  "cidrVips",
  "ports",
  "subjectAltNames",
  "waypoint",
  "weightedWaypoints",
  "loadBalancer",
  "ipFamilies",
  "canonical",
  "visibility",
] as const;

const SCOPES: readonly LoadBalancingScope[] = ["Region", "Zone", "Subzone", "Node", "Cluster", "Network"];
/** "Standard" is how ztunnel's config_dump spells UnspecifiedMode. */
const MODES = ["UnspecifiedMode", "Standard", "Strict", "Failover", "Passthrough"] as const;
const HEALTH: readonly HealthPolicy[] = ["OnlyHealthy", "AllowAll"];
const IP_FAMILIES = ["Automatic", "IPv4Only", "IPv6Only", "Dual", "IPv4", "IPv6"] as const;
/** ztunnel's serde names (its config_dump's too) → zt's. */
const IP_FAMILY_ALIASES: Record<string, NonNullable<Service["ipFamilies"]>> = {
  IPv4: "IPv4Only",
  IPv6: "IPv6Only",
};

/** One of ztunnel's `cidrVips`: `{network, cidr: "ip/length"}` (network defaults to ""). */
function parseCidrVip(v: unknown, at: string): NetworkCidr {
  const o = expectFields(v, at, ["network", "cidr"]);
  const network = o.network === undefined ? "" : expectString(o.network, `${at}.network`);
  const cidr = expectString(required(o, "cidr", at), `${at}.cidr`);
  if (network.includes("/") || cidr.split("/").length !== 2) {
    throw configError(`${at}.cidr`, `invalid CIDR "${cidr}" (expected ip/length)`);
  }
  return expectNetworkAddress(`${network}/${cidr}`, `${at}.cidr`, true);
}

function parseLoadBalancer(v: unknown, at: string): LoadBalancer {
  const o = expectFields(v, at, ["routingPreferences", "mode", "healthPolicy"]);
  const prefs = o.routingPreferences === undefined
    ? []
    : expectList(o.routingPreferences, `${at}.routingPreferences`);
  const mode = o.mode === undefined ? "UnspecifiedMode" : expectEnum(o.mode, `${at}.mode`, MODES);
  return {
    routingPreferences: prefs.map((p, i) => expectEnum(p, `${at}.routingPreferences[${i}]`, SCOPES)),
    mode: (mode === "Standard" ? "UnspecifiedMode" : mode) as LoadBalancingMode,
    healthPolicy: o.healthPolicy === undefined
      ? "OnlyHealthy"
      : expectEnum(o.healthPolicy, `${at}.healthPolicy`, HEALTH),
  };
}

/**
 * `{destination: {destination, hboneMtlsPort}, weight}` (the types' shape) or the flat
 * `{destination: "ns/host", hboneMtlsPort, weight}`.
 */
function parseWeightedWaypoint(v: unknown, at: string): WeightedWaypoint {
  const o = expectFields(v, at, ["destination", "hboneMtlsPort", "weight"]);
  const weight = o.weight === undefined ? 1 : expectInt(o.weight, `${at}.weight`, 0, 0xffffffff);
  if (isMapping(o.destination)) {
    expectFields(o, at, ["destination", "weight"]);
    return { destination: expectGateway(o.destination, `${at}.destination`), weight };
  }
  const flat: Record<string, unknown> = { destination: required(o, "destination", at) };
  if (o.hboneMtlsPort !== undefined) flat.hboneMtlsPort = o.hboneMtlsPort;
  return { destination: expectGateway(flat, at), weight };
}

export function parseLocalService(raw: unknown, at: string): Service {
  const o = expectFields(raw, at, FIELDS);
  const str = (k: string) => expectString(required(o, k, at), `${at}.${k}`);
  const name = str("name");
  const namespace = str("namespace");
  const hostname = str("hostname");
  const vips = expectList(required(o, "vips", at), `${at}.vips`).map((v, i) =>
    expectNetworkAddress(v, `${at}.vips[${i}]`, true)
  );
  const cidrVips = o.cidrVips === undefined
    ? []
    : expectList(o.cidrVips, `${at}.cidrVips`).map((v, i) => parseCidrVip(v, `${at}.cidrVips[${i}]`));
  const ports = expectPortMap(required(o, "ports", at), `${at}.ports`);
  const weighted = o.weightedWaypoints === undefined
    ? []
    : expectList(o.weightedWaypoints, `${at}.weightedWaypoints`);
  return {
    name,
    namespace,
    hostname,
    vips: [...vips, ...cidrVips],
    ports,
    subjectAltNames: o.subjectAltNames === undefined
      ? []
      : expectStringList(o.subjectAltNames, `${at}.subjectAltNames`),
    ...(o.waypoint === undefined ? {} : { waypoint: expectGateway(o.waypoint, `${at}.waypoint`) }),
    weightedWaypoints: weighted.map((w, i) => parseWeightedWaypoint(w, `${at}.weightedWaypoints[${i}]`)),
    ...(o.loadBalancer === undefined
      ? {}
      : { loadBalancer: parseLoadBalancer(o.loadBalancer, `${at}.loadBalancer`) }),
    ...(o.ipFamilies === undefined ? {} : {
      ipFamilies: ((f) => IP_FAMILY_ALIASES[f] ?? f as NonNullable<Service["ipFamilies"]>)(
        expectEnum(o.ipFamilies, `${at}.ipFamilies`, IP_FAMILIES),
      ),
    }),
    canonical: o.canonical === undefined ? false : expectBool(o.canonical, `${at}.canonical`),
    visibility: o.visibility === undefined
      ? "Public"
      : expectEnum(o.visibility, `${at}.visibility`, ["Public", "Namespace"] as const),
  };
}
