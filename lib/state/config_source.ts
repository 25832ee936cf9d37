/**
 * Where a node's workloads and policies come from, in ztunnel's order: a local config file
 * (LOCAL_XDS_PATH, watched), an inline one (LOCAL_XDS), or istiod's Delta xDS (XDS_ADDRESS). The xDS
 * stack loads only when a control plane is configured.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../log/logger.ts";
import type { Registry } from "../metrics/registry.ts";
import { LocalConfigSource } from "./local_source.ts";
import { type LocalConfig, parseLocalConfig } from "./local_config.ts";
import type { ProxyState } from "./proxy_state.ts";
import type { XdsConfigSource } from "./xds_source.ts";

export interface ConfigSourceOptions {
  readonly config: Config;
  readonly state: ProxyState;
  readonly registry: Registry;
  /** Puts a local config into the state (the caller decides ambient selection). */
  readonly apply: (cfg: LocalConfig) => void;
  readonly log: Logger;
}

export interface StartedConfigSource {
  readonly local?: LocalConfigSource;
  readonly xds?: XdsConfigSource;
  /**
   * Resolves once the first configuration is in: true, or false when the source was closed first.
   * Returned before it resolves, so a shutdown meanwhile can close the source.
   */
  readonly firstSync: Promise<boolean>;
}

export async function startConfigSource(o: ConfigSourceOptions): Promise<StartedConfigSource> {
  const c = o.config;
  if (c.localXdsPath) {
    const errors = o.registry.counter({
      name: "zt_local_config_errors",
      help:
        "LOCAL_XDS_PATH failures, the last good config kept: kind read, invalid or watch (re-established).",
      labelNames: ["kind"],
    });
    const local = new LocalConfigSource({
      path: c.localXdsPath,
      onConfig: o.apply,
      onFailure: (kind) => errors.labels([kind]).inc(1),
      log: o.log,
    });
    return { local, firstSync: local.start().then((cfg) => (o.apply(cfg), true)) };
  }
  if (c.localXds) {
    o.apply(parseLocalConfig(c.localXds, "LOCAL_XDS"));
    return { firstSync: Promise.resolve(true) };
  }
  if (!c.xdsAddress) return { firstSync: Promise.resolve(true) };
  const { controlPlaneChannel, xdsNodeInfo } = await import("../xds/control_plane_config.ts");
  const { XdsConfigSource } = await import("./xds_source.ts");
  const { XdsMetrics } = await import("../metrics/xds_metrics.ts");
  const metrics = new XdsMetrics(o.registry);
  const node = xdsNodeInfo(c);
  for (const e of node.errors) o.log.warn("ignoring node metadata", { error: e });
  const xds = new XdsConfigSource({
    channel: controlPlaneChannel(c, "xds"),
    node,
    state: o.state,
    log: o.log,
    metrics: {
      message: (t, b) => metrics.received(t, b),
      connectionTerminated: (r) => metrics.terminated(r),
    },
  });
  xds.start();
  // "state manager" stays pending until istiod's first Address and Authorization pushes are ACKed.
  return { xds, firstSync: xds.synced };
}
