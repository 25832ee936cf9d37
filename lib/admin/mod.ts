export * from "./readiness.ts";
export * from "./config_dump.ts";
export * from "./dashboard.ts";
export * from "./admin_server.ts";
export * from "./proxy_config_view.ts";
