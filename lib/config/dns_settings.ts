/** The DNS proxy's settings (ztunnel: DNS_CAPTURE and DNS_PROXY_ADDR from the ISTIO_META_* proxy metadata). */
import { ConfigError, parseBool, parseDuration, parseUint } from "./parse.ts";
import type { SettingReader } from "./settings.ts";
import { parseSocketAddr } from "../state/ip.ts";

/** The DNS part of Config; `meta` is PROXY_CONFIG's proxyMetadata (DNS_CAPTURE, DNS_PROXY_ADDR). */
export function dnsSettings(get: SettingReader, meta: Record<string, string>) {
  const capture = get("ISTIO_META_DNS_CAPTURE") ?? meta.DNS_CAPTURE;
  const addrText = get("ISTIO_META_DNS_PROXY_ADDR") ?? meta.DNS_PROXY_ADDR ?? "localhost:15053";
  const m = /^localhost:(\d+)$/.exec(addrText.trim());
  let dnsProxyAddr: { host: string; port: number };
  if (m) dnsProxyAddr = { host: "localhost", port: parseUint("ISTIO_META_DNS_PROXY_ADDR", m[1], 0, 65535) };
  else {
    const a = parseSocketAddr(addrText.trim());
    if (!a) {
      throw new ConfigError("ISTIO_META_DNS_PROXY_ADDR", addrText, "expected localhost:PORT or IP:PORT");
    }
    dnsProxyAddr = { host: a.ip, port: a.port };
  }
  const upstreamText = get("ZT_DNS_UPSTREAMS");
  const dnsUpstreams = upstreamText === undefined ? undefined : upstreamText.split(",").map((s) => s.trim())
    .filter(Boolean).map((s) => {
      const a = parseSocketAddr(s) ?? parseSocketAddr(`${s.includes(":") ? `[${s}]` : s}:53`);
      if (!a) throw new ConfigError("ZT_DNS_UPSTREAMS", upstreamText, `"${s}" is not ip:port`);
      return a;
    });
  const timeout = get("ZT_DNS_UPSTREAM_TIMEOUT");
  return {
    dnsCapture: capture === undefined || capture.trim().toLowerCase() === "true",
    dnsProxyAddr,
    dnsUpstreams,
    dnsUpstreamTimeoutMs: timeout === undefined
      ? undefined
      : parseDuration("ZT_DNS_UPSTREAM_TIMEOUT", timeout),
    preferedServiceNamespace: get("PREFERED_SERVICE_NAMESPACE") || undefined,
    ipv6Enabled: parseBool("IPV6_ENABLED", get("IPV6_ENABLED") ?? "true"),
  };
}
