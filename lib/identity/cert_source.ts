/**
 * Where a node's workload certificates come from: the built-in CA (LOCAL_CA_DIR, standalone) or the
 * Istio CA over gRPC (CA_ADDRESS). The gRPC stack loads only when a control plane is configured, so
 * standalone nodes stay lighter.
 */
import type { Config } from "../config/config.ts";
import { ZtError } from "../error.ts";
import type { Logger } from "../log/logger.ts";
import type { GrpcChannel } from "../xds/grpc_channel.ts";
import { BuiltinCa } from "./builtin_ca.ts";
import type { CertSource } from "./cert_manager.ts";

export interface OpenedCertSource {
  readonly source: CertSource;
  /** The CA's channel, closed with the node (Istio CA only). */
  readonly channel?: GrpcChannel;
}

export async function openCertSource(c: Config, log: Logger): Promise<OpenedCertSource> {
  if (c.localCaDir) {
    const ca = await BuiltinCa.load(c.localCaDir);
    return { source: ca.source(c.secretTtlMs) };
  }
  if (c.caAddress) {
    const { controlPlaneChannel } = await import("../xds/control_plane_config.ts");
    const { IstioCaClient } = await import("./ca_client.ts");
    const channel = controlPlaneChannel(c, "ca");
    log.info("using the Istio CA", { address: c.caAddress, ttl: `${c.secretTtlMs}ms` });
    return { source: new IstioCaClient({ channel, ttlMs: c.secretTtlMs }), channel };
  }
  throw new ZtError(
    "config",
    "no certificate source: set LOCAL_CA_DIR (built-in CA) or CA_ADDRESS (Istio CA)",
  );
}
