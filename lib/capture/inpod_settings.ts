/**
 * istio-cni's node-wide in-pod settings from flags, else from its environment names (AMBIENT_DNS_CAPTURE,
 * AMBIENT_IPV6, HOST_PROBE_SNAT_IP, HOST_PROBE_SNAT_IPV6), else istio-cni's defaults. Booleans are read as
 * istio-cni reads them (Go's ParseBool). Pure.
 */
import { ZtError } from "../error.ts";
import { DEFAULT_INPOD_SETTINGS, type InpodSettings } from "./inpod_rules.ts";
import { parseGoBool } from "./pod_overrides.ts";

export interface InpodSettingFlags {
  readonly dnsCapture?: string;
  readonly ipv6?: string;
}

export function inpodSettings(
  flags: InpodSettingFlags,
  env: Readonly<Record<string, string | undefined>>,
): InpodSettings {
  const bool = (flag: string | undefined, name: string, envName: string, def: boolean) => {
    const raw = flag ?? env[envName];
    if (raw === undefined || raw === "") return def;
    const v = parseGoBool(raw);
    if (v === undefined) {
      throw new ZtError("config", `${name} (${envName}): "${raw}" is not true or false`);
    }
    return v;
  };
  return {
    dnsCapture: bool(
      flags.dnsCapture,
      "--dns-capture",
      "AMBIENT_DNS_CAPTURE",
      DEFAULT_INPOD_SETTINGS.dnsCapture,
    ),
    ipv6: bool(flags.ipv6, "--ipv6", "AMBIENT_IPV6", DEFAULT_INPOD_SETTINGS.ipv6),
    hostProbeSnatIp: env.HOST_PROBE_SNAT_IP || DEFAULT_INPOD_SETTINGS.hostProbeSnatIp,
    hostProbeSnatIpv6: env.HOST_PROBE_SNAT_IPV6 || DEFAULT_INPOD_SETTINGS.hostProbeSnatIpv6,
  };
}
