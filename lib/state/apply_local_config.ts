/**
 * Applies a standalone (local file) config to the state: Istio's own AuthorizationPolicy and
 * PeerAuthentication documents are converted as istiod would, selector policies are bound to the
 * workloads whose labels they select, and the whole state is replaced at once.
 */
import type { Logger } from "../log/logger.ts";
import { bindPolicies, convertIstioDocuments } from "../policy/convert_istio.ts";
import type { LocalConfig } from "./local_config.ts";
import type { ProxyState } from "./proxy_state.ts";
import type { Workload } from "./types.ts";

export function applyLocalConfig(
  state: ProxyState,
  cfg: LocalConfig,
  rootNamespace: string,
  log: Logger,
): void {
  const conv = convertIstioDocuments(cfg.istioDocuments, { rootNamespace });
  for (const w of conv.warnings) log.warn("policy conversion warning", { warning: w });
  for (const e of conv.errors) log.error("policy rejected", { error: e });
  const bound = bindPolicies(conv, cfg.workloads, rootNamespace);
  const workloads: Workload[] = cfg.workloads.map((w) => {
    const extra = bound.bindings.get(w.uid);
    if (!extra || extra.length === 0) return w;
    return { ...w, authorizationPolicies: [...new Set([...w.authorizationPolicies, ...extra])] };
  });
  state.replaceAll({ workloads, services: cfg.services, policies: [...cfg.policies, ...bound.policies] });
  log.info("config applied", {
    workloads: workloads.length,
    services: cfg.services.length,
    policies: cfg.policies.length + bound.policies.length,
  });
}
