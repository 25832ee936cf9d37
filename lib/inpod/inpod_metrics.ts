/** In-pod mode's metrics, as ztunnel registers them: in the root registry, so without the `istio_` prefix. */
import type { Counter, Gauge } from "../metrics/metric_family.ts";
import type { Registry } from "../metrics/registry.ts";

export class InpodMetrics {
  readonly activeProxies: Gauge;
  readonly pendingProxies: Gauge;
  readonly proxiesStarted: Counter;
  readonly proxiesStopped: Counter;

  constructor(registry: Registry) {
    this.activeProxies = registry.gauge({
      name: "workload_manager_active_proxy_count",
      help: "The total number current workloads with active proxies (unstable)",
    }).labels();
    this.pendingProxies = registry.gauge({
      name: "workload_manager_pending_proxy_count",
      help: "The total number current workloads with pending proxies (unstable)",
    }).labels();
    this.proxiesStarted = registry.counter({
      name: "workload_manager_proxies_started",
      help: "The total number of proxies that were started (unstable)",
    }).labels();
    this.proxiesStopped = registry.counter({
      name: "workload_manager_proxies_stopped",
      help: "The total number of proxies that were stopped (unstable)",
    }).labels();
  }
}
