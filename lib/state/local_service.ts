/**
 * One `services:` entry of the local config file → a {@link Service}. `name`, `namespace`, `hostname`,
 * `vips` and `ports` are required; `canonical` defaults to false and `visibility` to Public, as in ztunnel.
 */
import {
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
  Service,
  WeightedWaypoint,
} from "./types.ts";

const FIELDS = [
  "name",
  "namespace",
  "hostname",
  "vips",
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
  const ports = expectPortMap(required(o, "ports", at), `${at}.ports`);
  const weighted = o.weightedWaypoints === undefined
    ? []
    : expectList(o.weightedWaypoints, `${at}.weightedWaypoints`);
  return {
    name,
    namespace,
    hostname,
    vips,
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
      ipFamilies: expectEnum(
        o.ipFamilies,
        `${at}.ipFamilies`,
        ["Automatic", "IPv4Only", "IPv6Only", "Dual"] as const,
      ),
    }),
    canonical: o.canonical === undefined ? false : expectBool(o.canonical, `${at}.canonical`),
    visibility: o.visibility === undefined
      ? "Public"
      : expectEnum(o.visibility, `${at}.visibility`, ["Public", "Namespace"] as const),
  };
}
