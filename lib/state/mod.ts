/** The mesh state: types, indexes, routing decisions and the local config source. */
export * from "./types.ts";
export * from "./ip.ts";
export * from "./proxy_state.ts";
export * from "./rank_services.ts";
export * from "./service_index.ts";
export * from "./workload_index.ts";
export * from "./load_balancer.ts";
export * from "./route.ts";
export * from "./route_inbound.ts";
export * from "./local_config.ts";
export * from "./local_source.ts";
