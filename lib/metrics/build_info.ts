/** `istio_build{component="ztunnel",tag}`: a constant 1 naming the build, as ztunnel exports it. */
import type { GaugeFamily } from "./metric_family.ts";
import type { Registry } from "./registry.ts";

export function registerBuildInfo(registry: Registry, tag: string): GaugeFamily {
  const g = registry.gauge({
    name: "istio_build",
    help: "Istio component build info",
    labelNames: ["component", "tag"],
  });
  g.labels(["ztunnel", tag]).set(1);
  return g;
}
