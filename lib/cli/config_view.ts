/** `zt config workloads|services|policies|secrets|all [-o json|yaml]` and `zt log-level [level]`. */
import { parseArgs } from "node:util";
import { errorMessage } from "../error.ts";
import {
  formatAll,
  formatPolicies,
  formatSecrets,
  formatServices,
  formatWorkloads,
  toJson,
  toYaml,
} from "../admin/proxy_config_view.ts";
import { adminAddress, adminFetch, fetchConfigDump } from "./admin_client.ts";

export const CONFIG_HELP =
  `zt config <workloads|services|policies|secrets|all> [-o table|json|yaml] [--admin host:port]

Shows a running node's view, like 'istioctl proxy-config' for ztunnel, read from its admin endpoint
(--admin, else ADMIN_ADDR, else 127.0.0.1:15000, or INSTANCE_IP:15000 on a loopback node).`;

export const LOG_LEVEL_HELP = `zt log-level [level] [--admin host:port]

Without a level, prints the node's current log levels. A level is 'info', 'debug', 'xds=debug,inbound=trace'
(or 'xds:debug'), or 'reset'. Levels: off error warn info debug trace.`;

const VIEWS = {
  workloads: { key: "workloads", format: formatWorkloads },
  services: { key: "services", format: formatServices },
  policies: { key: "policies", format: formatPolicies },
  secrets: { key: "certificates", format: formatSecrets },
  all: { key: undefined, format: formatAll },
} as const;

export async function configCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { output: { type: "string", short: "o", default: "table" }, admin: { type: "string" } },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`zt config: ${errorMessage(e)}\n\n${CONFIG_HELP}`);
    return 2;
  }
  const what = parsed.positionals[0] as keyof typeof VIEWS | undefined;
  const out = parsed.values.output;
  if (!what || !(what in VIEWS) || !["table", "json", "yaml"].includes(out!)) {
    console.error(CONFIG_HELP);
    return 2;
  }
  try {
    const dump = await fetchConfigDump(adminAddress(parsed.values.admin, Deno.env.toObject()));
    const view = VIEWS[what];
    const data = view.key ? dump[view.key] ?? [] : dump;
    if (out === "json") console.log(toJson(data));
    else if (out === "yaml") console.log(toYaml(data));
    else console.log(view.format(dump).trimEnd());
    return 0;
  } catch (e) {
    console.error(`zt config: ${errorMessage(e)}`);
    return 1;
  }
}

export async function logLevelCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { admin: { type: "string" } }, allowPositionals: true });
  } catch (e) {
    console.error(`zt log-level: ${errorMessage(e)}\n\n${LOG_LEVEL_HELP}`);
    return 2;
  }
  const level = parsed.positionals[0];
  const query = level === undefined ? "" : `?level=${encodeURIComponent(level)}`;
  try {
    const res = await adminFetch(adminAddress(parsed.values.admin, Deno.env.toObject()), `/logging${query}`, {
      method: "POST",
    });
    const body = await res.text();
    if (!res.ok) {
      console.error(`zt log-level: ${body.trim()}`);
      return 1;
    }
    console.log(body.trimEnd());
    return 0;
  } catch (e) {
    console.error(`zt log-level: ${errorMessage(e)}`);
    return 1;
  }
}
