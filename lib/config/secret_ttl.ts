/** SECRET_TTL: the workload certificate lifetime zt asks for, within what can be issued and renewed. */
import { ConfigError, parseDuration } from "./parse.ts";

/**
 * SECRET_TTL, bounded to what can be issued and renewed: at least 1 minute, so that the half left after
 * the renewal at half-life holds two CA calls with their 10 s deadline and the 1 s retry between them
 * (shorter values never became ready, or renewed before their certificate could be used); at most 90 days,
 * istiod's default MAX_WORKLOAD_CERT_TTL, beyond which istiod refuses the request.
 */
export const SECRET_TTL_BOUNDS_MS = { min: 60_000, max: 90 * 86_400_000 } as const;

/** SECRET_TTL in milliseconds; throws ConfigError outside SECRET_TTL_BOUNDS_MS. */
export function parseSecretTtl(value: string): number {
  const ms = parseDuration("SECRET_TTL", value);
  if (ms < SECRET_TTL_BOUNDS_MS.min || ms > SECRET_TTL_BOUNDS_MS.max) {
    throw new ConfigError(
      "SECRET_TTL",
      value,
      [
        "expected a certificate lifetime from 1m to 90d",
        "(a shorter one cannot be renewed safely at half-life; istiod refuses a longer one by default)",
      ].join(" "),
    );
  }
  return ms;
}
