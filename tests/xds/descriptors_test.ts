import assert from "node:assert/strict";
import { DESCRIPTORS_PATH, generateDescriptorSource } from "../../proto/generate.ts";
import { protoRoot } from "../../lib/xds/proto.ts";

Deno.test("proto/descriptors.ts is up to date with proto/*.proto", () => {
  const committed = Deno.readTextFileSync(DESCRIPTORS_PATH);
  assert.equal(
    committed,
    generateDescriptorSource(),
    "stale: run `deno run --allow-read --allow-write proto/generate.ts`",
  );
});

/** [message, field (camelCase), number, type, rule?] from ztunnel-facts §1.1–1.4. */
const FIELDS: [string, string, number, string, string?][] = [
  ["envoy.service.discovery.v3.DeltaDiscoveryRequest", "node", 1, "envoy.config.core.v3.Node"],
  ["envoy.service.discovery.v3.DeltaDiscoveryRequest", "typeUrl", 2, "string"],
  ["envoy.service.discovery.v3.DeltaDiscoveryRequest", "resourceNamesSubscribe", 3, "string", "repeated"],
  ["envoy.service.discovery.v3.DeltaDiscoveryRequest", "resourceNamesUnsubscribe", 4, "string", "repeated"],
  ["envoy.service.discovery.v3.DeltaDiscoveryRequest", "initialResourceVersions", 5, "string", "map"],
  ["envoy.service.discovery.v3.DeltaDiscoveryRequest", "responseNonce", 6, "string"],
  ["envoy.service.discovery.v3.DeltaDiscoveryRequest", "errorDetail", 7, "google.rpc.Status"],
  ["envoy.service.discovery.v3.DeltaDiscoveryResponse", "systemVersionInfo", 1, "string"],
  ["envoy.service.discovery.v3.DeltaDiscoveryResponse", "resources", 2, "Resource", "repeated"],
  ["envoy.service.discovery.v3.DeltaDiscoveryResponse", "typeUrl", 4, "string"],
  ["envoy.service.discovery.v3.DeltaDiscoveryResponse", "nonce", 5, "string"],
  ["envoy.service.discovery.v3.DeltaDiscoveryResponse", "removedResources", 6, "string", "repeated"],
  ["envoy.service.discovery.v3.Resource", "version", 1, "string"],
  ["envoy.service.discovery.v3.Resource", "resource", 2, "google.protobuf.Any"],
  ["envoy.service.discovery.v3.Resource", "name", 3, "string"],
  ["envoy.service.discovery.v3.Resource", "aliases", 4, "string", "repeated"],
  ["envoy.service.discovery.v3.Resource", "ttl", 6, "google.protobuf.Duration"],
  ["envoy.service.discovery.v3.Resource", "cacheControl", 7, "CacheControl"],
  ["envoy.config.core.v3.Node", "id", 1, "string"],
  ["envoy.config.core.v3.Node", "cluster", 2, "string"],
  ["envoy.config.core.v3.Node", "metadata", 3, "google.protobuf.Struct"],
  ["envoy.config.core.v3.Node", "buildVersion", 5, "string"],
  ["google.rpc.Status", "code", 1, "int32"],
  ["google.rpc.Status", "message", 2, "string"],
  ["google.rpc.Status", "details", 3, "google.protobuf.Any", "repeated"],
  ["istio.workload.Address", "workload", 1, "Workload"],
  ["istio.workload.Address", "service", 2, "Service"],
  ["istio.workload.Service", "name", 1, "string"],
  ["istio.workload.Service", "namespace", 2, "string"],
  ["istio.workload.Service", "hostname", 3, "string"],
  ["istio.workload.Service", "addresses", 4, "NetworkAddress", "repeated"],
  ["istio.workload.Service", "ports", 5, "Port", "repeated"],
  ["istio.workload.Service", "subjectAltNames", 6, "string", "repeated"],
  ["istio.workload.Service", "waypoint", 7, "GatewayAddress"],
  ["istio.workload.Service", "loadBalancing", 8, "LoadBalancing"],
  ["istio.workload.Service", "ipFamilies", 9, "IPFamilies"],
  ["istio.workload.Service", "extensions", 10, "Extension", "repeated"],
  ["istio.workload.Service", "canonical", 11, "bool"],
  ["istio.workload.Service", "ingressUseWaypoint", 12, "bool"],
  ["istio.workload.Service", "weightedWaypoints", 13, "WeightedWaypoint", "repeated"],
  ["istio.workload.Service", "visibility", 14, "Visibility"],
  ["istio.workload.Workload", "uid", 20, "string"],
  ["istio.workload.Workload", "name", 1, "string"],
  ["istio.workload.Workload", "namespace", 2, "string"],
  ["istio.workload.Workload", "addresses", 3, "bytes", "repeated"],
  ["istio.workload.Workload", "hostname", 21, "string"],
  ["istio.workload.Workload", "network", 4, "string"],
  ["istio.workload.Workload", "tunnelProtocol", 5, "TunnelProtocol"],
  ["istio.workload.Workload", "trustDomain", 6, "string"],
  ["istio.workload.Workload", "serviceAccount", 7, "string"],
  ["istio.workload.Workload", "waypoint", 8, "GatewayAddress"],
  ["istio.workload.Workload", "networkGateway", 19, "GatewayAddress"],
  ["istio.workload.Workload", "node", 9, "string"],
  ["istio.workload.Workload", "canonicalName", 10, "string"],
  ["istio.workload.Workload", "canonicalRevision", 11, "string"],
  ["istio.workload.Workload", "workloadType", 12, "WorkloadType"],
  ["istio.workload.Workload", "workloadName", 13, "string"],
  ["istio.workload.Workload", "nativeTunnel", 14, "bool"],
  ["istio.workload.Workload", "authorizationPolicies", 16, "string", "repeated"],
  ["istio.workload.Workload", "status", 17, "WorkloadStatus"],
  ["istio.workload.Workload", "clusterId", 18, "string"],
  ["istio.workload.Workload", "services", 22, "PortList", "map"],
  ["istio.workload.Workload", "applicationTunnel", 23, "ApplicationTunnel"],
  ["istio.workload.Workload", "locality", 24, "Locality"],
  ["istio.workload.Workload", "networkMode", 25, "NetworkMode"],
  ["istio.workload.Workload", "extensions", 26, "Extension", "repeated"],
  ["istio.workload.Workload", "capacity", 27, "google.protobuf.UInt32Value"],
  ["istio.workload.LoadBalancing", "routingPreference", 1, "Scope", "repeated"],
  ["istio.workload.LoadBalancing", "mode", 2, "Mode"],
  ["istio.workload.LoadBalancing", "healthPolicy", 3, "HealthPolicy"],
  ["istio.workload.Locality", "region", 1, "string"],
  ["istio.workload.Locality", "zone", 2, "string"],
  ["istio.workload.Locality", "subzone", 3, "string"],
  ["istio.workload.PortList", "ports", 1, "Port", "repeated"],
  ["istio.workload.Port", "servicePort", 1, "uint32"],
  ["istio.workload.Port", "targetPort", 2, "uint32"],
  ["istio.workload.Port", "appProtocol", 3, "AppProtocol"],
  ["istio.workload.ApplicationTunnel", "protocol", 1, "Protocol"],
  ["istio.workload.ApplicationTunnel", "port", 2, "uint32"],
  ["istio.workload.GatewayAddress", "hostname", 1, "NamespacedHostname"],
  ["istio.workload.GatewayAddress", "address", 2, "NetworkAddress"],
  ["istio.workload.GatewayAddress", "hboneMtlsPort", 3, "uint32"],
  ["istio.workload.WeightedWaypoint", "destination", 1, "GatewayAddress"],
  ["istio.workload.WeightedWaypoint", "weight", 2, "uint32"],
  ["istio.workload.NetworkAddress", "network", 1, "string"],
  ["istio.workload.NetworkAddress", "address", 2, "bytes"],
  ["istio.workload.NetworkAddress", "length", 3, "uint32"],
  ["istio.workload.NamespacedHostname", "namespace", 1, "string"],
  ["istio.workload.NamespacedHostname", "hostname", 2, "string"],
  ["istio.workload.Extension", "name", 1, "string"],
  ["istio.workload.Extension", "config", 2, "google.protobuf.Any"],
  ["istio.security.Authorization", "name", 1, "string"],
  ["istio.security.Authorization", "namespace", 2, "string"],
  ["istio.security.Authorization", "scope", 3, "Scope"],
  ["istio.security.Authorization", "action", 4, "Action"],
  ["istio.security.Authorization", "rules", 5, "Rule", "repeated"],
  ["istio.security.Authorization", "dryRun", 6, "bool"],
  ["istio.security.Authorization", "extensions", 7, "istio.workload.Extension", "repeated"],
  ["istio.security.Rule", "clauses", 1, "Clause", "repeated"],
  ["istio.security.Clause", "matches", 2, "Match", "repeated"],
  ["istio.security.Match", "namespaces", 1, "StringMatch", "repeated"],
  ["istio.security.Match", "notNamespaces", 2, "StringMatch", "repeated"],
  ["istio.security.Match", "principals", 3, "StringMatch", "repeated"],
  ["istio.security.Match", "notPrincipals", 4, "StringMatch", "repeated"],
  ["istio.security.Match", "sourceIps", 5, "Address", "repeated"],
  ["istio.security.Match", "notSourceIps", 6, "Address", "repeated"],
  ["istio.security.Match", "destinationIps", 7, "Address", "repeated"],
  ["istio.security.Match", "notDestinationIps", 8, "Address", "repeated"],
  ["istio.security.Match", "destinationPorts", 9, "uint32", "repeated"],
  ["istio.security.Match", "notDestinationPorts", 10, "uint32", "repeated"],
  ["istio.security.Match", "serviceAccounts", 11, "ServiceAccountMatch", "repeated"],
  ["istio.security.Match", "notServiceAccounts", 12, "ServiceAccountMatch", "repeated"],
  ["istio.security.Match", "extensions", 13, "istio.workload.Extension", "repeated"],
  ["istio.security.Address", "address", 1, "bytes"],
  ["istio.security.Address", "length", 2, "uint32"],
  ["istio.security.ServiceAccountMatch", "namespace", 1, "string"],
  ["istio.security.ServiceAccountMatch", "serviceAccount", 2, "string"],
  ["istio.security.StringMatch", "exact", 1, "string"],
  ["istio.security.StringMatch", "prefix", 2, "string"],
  ["istio.security.StringMatch", "suffix", 3, "string"],
  ["istio.security.StringMatch", "presence", 4, "google.protobuf.Empty"],
  ["istio.v1.auth.IstioCertificateRequest", "csr", 1, "string"],
  ["istio.v1.auth.IstioCertificateRequest", "validityDuration", 3, "int64"],
  ["istio.v1.auth.IstioCertificateRequest", "metadata", 4, "google.protobuf.Struct"],
  ["istio.v1.auth.IstioCertificateResponse", "certChain", 1, "string", "repeated"],
];

Deno.test("every field has the number and type of the Istio/Envoy protos", () => {
  for (const [msg, field, id, type, rule] of FIELDS) {
    const f = protoRoot.lookupType(msg).fields[field];
    assert.ok(f, `${msg}.${field} missing`);
    assert.equal(f.id, id, `${msg}.${field} number`);
    assert.equal(f.type, type, `${msg}.${field} type`);
    if (rule === "repeated") assert.ok(f.repeated, `${msg}.${field} repeated`);
    else if (rule === "map") assert.ok(f.map, `${msg}.${field} map`);
    else assert.ok(!f.repeated && !f.map, `${msg}.${field} singular`);
  }
});

Deno.test("oneofs and enum values match the protos", () => {
  const addr = protoRoot.lookupType("istio.workload.Address");
  assert.deepEqual(addr.oneofs.type.fieldsArray.map((f) => f.name), ["workload", "service"]);
  const gw = protoRoot.lookupType("istio.workload.GatewayAddress");
  assert.deepEqual(gw.oneofs.destination.fieldsArray.map((f) => f.name), ["hostname", "address"]);
  const sm = protoRoot.lookupType("istio.security.StringMatch");
  assert.deepEqual(sm.oneofs.matchType.fieldsArray.map((f) => f.name), [
    "exact",
    "prefix",
    "suffix",
    "presence",
  ]);
  const enums: [string, Record<string, number>][] = [
    ["istio.workload.TunnelProtocol", { NONE: 0, HBONE: 1, LEGACY_ISTIO_MTLS: 2 }],
    ["istio.workload.WorkloadType", { DEPLOYMENT: 0, CRONJOB: 1, POD: 2, JOB: 3 }],
    ["istio.workload.WorkloadStatus", { HEALTHY: 0, UNHEALTHY: 1 }],
    ["istio.workload.NetworkMode", { STANDARD: 0, HOST_NETWORK: 1 }],
    ["istio.workload.IPFamilies", { AUTOMATIC: 0, IPV4_ONLY: 1, IPV6_ONLY: 2, DUAL: 3 }],
    ["istio.workload.AppProtocol", { UNKNOWN: 0, HTTP11: 1, HTTP2: 2, GRPC: 3, TCP: 4, TLS: 5 }],
    ["istio.workload.ApplicationTunnel.Protocol", { NONE: 0, PROXY: 1 }],
    ["istio.workload.Service.Visibility", { PUBLIC: 0, NAMESPACE: 1 }],
    ["istio.workload.LoadBalancing.Scope", {
      UNSPECIFIED_SCOPE: 0,
      REGION: 1,
      ZONE: 2,
      SUBZONE: 3,
      NODE: 4,
      CLUSTER: 5,
      NETWORK: 6,
    }],
    ["istio.workload.LoadBalancing.Mode", { UNSPECIFIED_MODE: 0, STRICT: 1, FAILOVER: 2, PASSTHROUGH: 3 }],
    ["istio.workload.LoadBalancing.HealthPolicy", { ONLY_HEALTHY: 0, ALLOW_ALL: 1 }],
    ["istio.security.Scope", { GLOBAL: 0, NAMESPACE: 1, WORKLOAD_SELECTOR: 2 }],
    ["istio.security.Action", { ALLOW: 0, DENY: 1 }],
  ];
  for (const [name, values] of enums) assert.deepEqual(protoRoot.lookupEnum(name).values, values, name);
});

Deno.test("the services are declared with their gRPC methods", () => {
  const ads = protoRoot.lookupService("envoy.service.discovery.v3.AggregatedDiscoveryService");
  const m = ads.methods.DeltaAggregatedResources;
  assert.equal(m.requestType, "DeltaDiscoveryRequest");
  assert.equal(m.responseType, "DeltaDiscoveryResponse");
  assert.ok(m.requestStream && m.responseStream);
  const ca = protoRoot.lookupService("istio.v1.auth.IstioCertificateService");
  assert.equal(ca.methods.CreateCertificate.requestType, "IstioCertificateRequest");
  assert.ok(!ca.methods.CreateCertificate.requestStream && !ca.methods.CreateCertificate.responseStream);
});
