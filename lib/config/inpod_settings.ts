/** In-pod (ZDS) settings: the proxy mode, istio-cni's socket, port reuse and the packet mark. */
import { ConfigError, parseBool, parseEnum, parseUint } from "./parse.ts";
import type { SettingReader } from "./settings.ts";

/** PROXY_MODE, INPOD_* and PACKET_MARK, as ztunnel reads them (plus INPOD_ENABLED, which the chart sets). */
export function inpodSettings(get: SettingReader) {
  const proxyMode = parseEnum("PROXY_MODE", get("PROXY_MODE") ?? "shared", ["shared", "dedicated"] as const);
  const enabled = get("INPOD_ENABLED");
  const uds = get("INPOD_UDS");
  const explicit = enabled !== undefined && parseBool("INPOD_ENABLED", enabled);
  if (explicit && proxyMode !== "shared") {
    throw new ConfigError("INPOD_ENABLED", enabled!, "in-pod mode needs PROXY_MODE=shared");
  }
  const mark = get("PACKET_MARK");
  return {
    proxyMode,
    inpodEnabled: proxyMode === "shared" && (explicit || (uds !== undefined && uds !== "")),
    inpodUds: uds || "/var/run/ztunnel/ztunnel.sock",
    inpodPortReuse: parseBool("INPOD_PORT_REUSE", get("INPOD_PORT_REUSE") ?? "true"),
    packetMark: mark !== undefined
      ? parseUint("PACKET_MARK", mark, 0, 2 ** 32 - 1)
      : proxyMode === "shared"
      ? 1337
      : undefined,
  };
}
