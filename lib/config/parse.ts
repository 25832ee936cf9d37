/** Value parsers for configuration: each throws ConfigError naming the variable and the value. */
import { ZtError } from "../error.ts";

export class ConfigError extends ZtError {
  constructor(readonly variable: string, readonly value: string, reason: string) {
    super("config", `invalid ${variable}=${JSON.stringify(value)}: ${reason}`);
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Go/ztunnel-style durations: `24h`, `5m`, `1h30m`, `10s`, `250ms`; a bare number is seconds. */
export function parseDuration(variable: string, value: string): number {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * UNITS[m[2]];
    matched += m[0].length;
  }
  if (matched === 0 || matched !== v.length) {
    throw new ConfigError(variable, value, "expected a duration such as 24h, 5m, 10s or 250ms");
  }
  return Math.round(total);
}

export function parseBool(variable: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new ConfigError(variable, value, "expected true or false");
}

export function parseUint(variable: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw new ConfigError(variable, value, "expected a whole number");
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(variable, value, `expected a number from ${min} to ${max}`);
  return n;
}

/** Byte sizes: `4194304`, `4Mi`, `64Ki`, `1MiB`. */
export function parseBytes(variable: string, value: string, min = 1, max = 2 ** 31 - 1): number {
  const m = /^(\d+)\s*(Ki|Mi|Gi|KiB|MiB|GiB|K|M|G)?$/.exec(value.trim());
  if (!m) throw new ConfigError(variable, value, "expected a size such as 4194304, 64Ki or 4Mi");
  const mult = m[2] ? 1024 ** (1 + "KMG".indexOf(m[2][0])) : 1;
  const n = Number(m[1]) * mult;
  if (n < min || n > max) {
    throw new ConfigError(variable, value, `expected a size from ${min} to ${max} bytes`);
  }
  return n;
}

/** `host:port`, `[v6]:port` or `:port` (host defaults). */
export function parseHostPort(
  variable: string,
  value: string,
  defaultHost: string,
): { hostname: string; port: number } {
  const v = value.trim();
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d+)$/.exec(v);
  if (!m) throw new ConfigError(variable, value, "expected host:port");
  const port = parseUint(variable, m[3], 0, 65535);
  return { hostname: m[1] ?? (m[2] || defaultHost), port };
}

export function parseEnum<T extends string>(variable: string, value: string, allowed: readonly T[]): T {
  const v = value.trim() as T;
  if (!allowed.includes(v)) throw new ConfigError(variable, value, `expected one of ${allowed.join(", ")}`);
  return v;
}

/** An xDS or CA address as a URL (`https://` when no scheme is given); "" stays "" (disabled). */
export function normalizeAddress(variable: string, value: string): string {
  const v = value.trim();
  if (v === "") return "";
  const withScheme = /^[a-z]+:\/\//.test(v) ? v : `https://${v}`;
  try {
    const u = new URL(withScheme);
    if (!u.port && u.protocol !== "https:") throw new Error("no port");
  } catch {
    throw new ConfigError(
      variable,
      value,
      "expected an address such as https://istiod.istio-system.svc:15012",
    );
  }
  return withScheme;
}

export function isIpLiteral(v: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(v) || (v.includes(":") && /^[0-9a-fA-F:.]+$/.test(v));
}
