export * from "./registry.ts";
export * from "./traffic_labels.ts";
export * from "./traffic_metrics.ts";
export * from "./xds_metrics.ts";
export * from "./build_info.ts";
export * from "./process_metrics.ts";
export * from "./cert_metrics.ts";
export * from "./metrics_server.ts";
