/**
 * The control-plane connection settings from zt's Config, as ztunnel derives them: a GrpcChannel
 * to istiod's xDS (XDS_ADDRESS, XDS_ROOT_CA, ALT_XDS_HOSTNAME, XDS_HEADER_*) or CA (CA_ADDRESS,
 * CA_ROOT_CA, ALT_CA_HOSTNAME, CA_HEADER_*) with the AUTH_TOKEN credentials, and the xDS Node.
 */
import type { Config } from "../config/config.ts";
import { authSourceFromEnv, DEFAULT_TOKEN_PATH } from "./auth_source.ts";
import { GrpcChannel, parseRootCa } from "./grpc_channel.ts";
import { buildNodeInfo, type NodeInfo } from "./node_info.ts";

export type ControlPlane = "xds" | "ca";

/**
 * A channel to istiod's xDS or CA endpoint. Builds nothing on the network yet (the first call
 * dials). Throws ZtError("config") for an invalid address.
 */
export function controlPlaneChannel(c: Config, which: ControlPlane): GrpcChannel {
  const xds = which === "xds";
  // Config fills AUTH_TOKEN with ztunnel's default path; the default means "that file if it exists,
  // else no credentials", while an explicit value that is not a file is a literal token.
  const token = c.authToken === DEFAULT_TOKEN_PATH ? undefined : c.authToken;
  return new GrpcChannel({
    address: xds ? c.xdsAddress : c.caAddress,
    rootCa: parseRootCa(xds ? c.xdsRootCa : c.caRootCa),
    altHostname: (xds ? c.altXdsHostname : c.altCaHostname) || undefined,
    auth: authSourceFromEnv(token, c.clusterId),
    headers: new Map(Object.entries(xds ? c.xdsHeaders : c.caHeaders)),
  });
}

/** The xDS Node (id `ztunnel~<ip>~<pod>.<ns>~<ns>.svc.cluster.local` and metadata) for this node. */
export function xdsNodeInfo(c: Config): NodeInfo {
  return buildNodeInfo({
    ...c.istioMetaEnv,
    INSTANCE_IP: c.instanceIp,
    POD_NAME: c.podName,
    POD_NAMESPACE: c.podNamespace,
    NODE_NAME: c.nodeName,
  }, c.proxyMetadata);
}
