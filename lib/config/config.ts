/**
 * One immutable Config from environment variables (ztunnel's names) and command-line flags.
 * Flags win over the environment. A bad value fails with a message naming the variable and the value.
 */
import {
  ConfigError,
  isIpLiteral,
  parseBool,
  parseBytes,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseUint,
} from "./parse.ts";
import { parseLogFilter } from "../log/logger.ts";
import { isLoopback } from "../state/ip.ts";
import { parse as parseYaml } from "yaml";
import { parseSocketAddr } from "../state/ip.ts";

export interface Config {
  readonly nodeName: string;
  readonly instanceIp: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly serviceAccount: string;
  readonly clusterId: string;
  readonly clusterDomain: string;
  readonly trustDomain: string;
  readonly network: string;
  /** Standalone config: a YAML file or a directory of them. */
  readonly localXdsPath?: string;
  /** Standalone config given inline. */
  readonly localXds?: string;
  /** Built-in CA: Istio plug-in CA files (root-cert.pem, ca-cert.pem, ca-key.pem, cert-chain.pem). */
  readonly localCaDir?: string;
  /** Empty string = xDS disabled. */
  readonly xdsAddress: string;
  /** Empty string = Istio CA disabled. */
  readonly caAddress: string;
  readonly xdsRootCa: string;
  readonly caRootCa: string;
  readonly altXdsHostname?: string;
  readonly altCaHostname?: string;
  readonly authToken: string;
  readonly xdsHeaders: Readonly<Record<string, string>>;
  readonly caHeaders: Readonly<Record<string, string>>;
  /** The `ISTIO_META_*` and `ISTIO_METAJSON_*` variables, verbatim: the xDS node metadata. */
  readonly istioMetaEnv: Readonly<Record<string, string>>;
  /** PROXY_CONFIG's (YAML ProxyConfig) `proxyMetadata`: also xDS node metadata. */
  readonly proxyMetadata: Readonly<Record<string, string>>;
  readonly secretTtlMs: number;
  readonly poolMaxStreamsPerConnection: number;
  readonly poolUnusedReleaseTimeoutMs: number;
  readonly http2StreamWindowSize: number;
  readonly http2ConnectionWindowSize: number;
  readonly http2FrameSize: number;
  readonly connectionTerminationDeadlineMs: number;
  readonly socks5Enabled: boolean;
  readonly adminAddr: { hostname: string; port: number };
  readonly statsAddr: { hostname: string; port: number };
  readonly readinessAddr: { hostname: string; port: number };
  readonly logFilter: string;
  readonly logFormat: "plain" | "json";
  readonly rootNamespace: string;
  readonly authzPolicyInfoLogging: boolean;
  /** ZT_CAPTURE: transparent capture of pod traffic (`tproxy`) or none. */
  readonly captureMode: "none" | "tproxy";
  /** ZT_TLS: the TLS under HBONE — `openssl` (libssl through FFI) or `node` (node:tls). */
  readonly tlsBackend: "node" | "openssl";
  /** PROXY_MODE: `shared` (one zt for the node's pods; ztunnel's default) or `dedicated`. */
  readonly proxyMode: "shared" | "dedicated";
  /** In-pod (ZDS) mode: on when INPOD_ENABLED=true or INPOD_UDS is set, in shared mode. */
  readonly inpodEnabled: boolean;
  /** INPOD_UDS: istio-cni's ZDS socket. */
  readonly inpodUds: string;
  /** INPOD_PORT_REUSE: SO_REUSEPORT on the per-pod listeners. */
  readonly inpodPortReuse: boolean;
  /** PACKET_MARK: SO_MARK on every pod socket; 1337 in shared mode, none in dedicated unless set. */
  readonly packetMark?: number;
  /** KEEPALIVE_*, USER_TIMEOUT_ENABLED: TCP keepalive on zt's connections and captured sockets. */
  readonly keepalive: {
    readonly enabled: boolean;
    readonly timeMs: number;
    readonly intervalMs: number;
    readonly retries: number;
    readonly userTimeout: boolean;
  };
  // ---- DNS proxy (lib/dns/) ----
  /** ISTIO_META_DNS_CAPTURE: each local pod's DNS proxy on 15053 (on unless set to something but "true"). */
  readonly dnsCapture: boolean;
  /** ISTIO_META_DNS_PROXY_ADDR: `localhost:P` (127.0.0.1 and ::1 in a pod; the pod's IP in loopback mode) or `IP:P`. */
  readonly dnsProxyAddr: { readonly host: string; readonly port: number };
  /** ZT_DNS_UPSTREAMS: upstream resolvers; undefined = the nameservers of /etc/resolv.conf. */
  readonly dnsUpstreams?: readonly { readonly ip: string; readonly port: number }[];
  /** ZT_DNS_UPSTREAM_TIMEOUT: per upstream try; undefined = resolv.conf's `timeout:`, else 5 s. */
  readonly dnsUpstreamTimeoutMs?: number;
  /** PREFERED_SERVICE_NAMESPACE (ztunnel's spelling): DNS tie-break among same-hostname services. */
  readonly preferedServiceNamespace?: string;
  /** IPV6_ENABLED: AAAA answers for mesh names, the ::1 DNS listener in a pod. */
  readonly ipv6Enabled: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Every setting zt reads: its environment variable, its flag, its default and what it means. */
export const SETTINGS = [
  [
    "NODE_NAME",
    "node-name",
    "(hostname)",
    "This node's name; workloads whose `node` equals it are local pods.",
  ],
  [
    "INSTANCE_IP",
    "instance-ip",
    "127.0.0.1",
    "This node's IP. A loopback IP (127.x, ::1) is a loopback node: admin, metrics and readiness bind it.",
  ],
  ["POD_NAME", "pod-name", "ztunnel", "zt's own pod name (xDS node id)."],
  ["POD_NAMESPACE", "pod-namespace", "istio-system", "zt's own namespace (xDS node id)."],
  ["SERVICE_ACCOUNT", "service-account", "ztunnel", "zt's own service account."],
  ["CLUSTER_ID", "cluster-id", "Kubernetes", "Cluster id, sent as the `clusterid` header."],
  ["CLUSTER_DOMAIN", "cluster-domain", "cluster.local", "DNS suffix for service short names."],
  ["TRUST_DOMAIN", "trust-domain", "cluster.local", "Default SPIFFE trust domain."],
  ["NETWORK", "network", "", "This node's network name."],
  [
    "LOCAL_XDS_PATH",
    "local-xds-path",
    "",
    "Standalone config: a YAML file or directory, watched for changes.",
  ],
  ["LOCAL_XDS", "local-xds", "", "Standalone config given inline (YAML)."],
  ["LOCAL_CA_DIR", "local-ca-dir", "", "Built-in CA: a directory written by `zt ca init`."],
  ["XDS_ADDRESS", "xds-address", "(see README)", "istiod's xDS address; empty disables xDS."],
  ["CA_ADDRESS", "ca-address", "(see README)", "Istio CA address; empty disables it."],
  [
    "XDS_ROOT_CA",
    "xds-root-ca",
    "./var/run/secrets/istio/root-cert.pem",
    "xDS server root: file, inline PEM or SYSTEM.",
  ],
  [
    "CA_ROOT_CA",
    "ca-root-ca",
    "./var/run/secrets/istio/root-cert.pem",
    "CA server root: file, inline PEM or SYSTEM.",
  ],
  ["ALT_XDS_HOSTNAME", "alt-xds-hostname", "", "Extra accepted xDS server name."],
  ["ALT_CA_HOSTNAME", "alt-ca-hostname", "", "Extra accepted CA server name."],
  [
    "AUTH_TOKEN",
    "auth-token",
    "./var/run/secrets/tokens/istio-token",
    "Bearer token file (re-read per call).",
  ],
  ["SECRET_TTL", "secret-ttl", "24h", "Workload certificate lifetime; renewed at half-life."],
  [
    "POOL_MAX_STREAMS_PER_CONNECTION",
    "pool-max-streams-per-connection",
    "100",
    "HBONE streams per pooled connection.",
  ],
  [
    "POOL_UNUSED_RELEASE_TIMEOUT",
    "pool-unused-release-timeout",
    "5m",
    "Idle pooled connections are closed after this.",
  ],
  ["HTTP2_STREAM_WINDOW_SIZE", "http2-stream-window-size", "4194304", "HTTP/2 stream flow-control window."],
  ["HTTP2_CONNECTION_WINDOW_SIZE", "http2-connection-window-size", "16777216", "HTTP/2 connection window."],
  ["HTTP2_FRAME_SIZE", "http2-frame-size", "1048576", "HTTP/2 max frame size."],
  [
    "CONNECTION_TERMINATION_DEADLINE",
    "connection-termination-deadline",
    "5s",
    "Drain deadline for live connections.",
  ],
  ["UNSTABLE_ENABLE_SOCKS5", "enable-socks5", "true", "SOCKS5 listener on each local pod's IP, port 15080."],
  [
    "ADMIN_ADDR",
    "admin-addr",
    "localhost:15000",
    "Admin server address; `localhost` is 127.0.0.1 and ::1 (INSTANCE_IP on a loopback node).",
  ],
  ["STATS_ADDR", "stats-addr", "[::]:15020", "Prometheus metrics address (INSTANCE_IP on a loopback node)."],
  [
    "READINESS_ADDR",
    "readiness-addr",
    "[::]:15021",
    "Readiness probe address (INSTANCE_IP on a loopback node).",
  ],
  ["RUST_LOG", "log-level", "info", "Log filter, e.g. `info,xds=debug,inbound=trace`."],
  ["LOG_FORMAT", "log-format", "plain", "`plain` or `json`."],
  ["ROOT_NAMESPACE", "root-namespace", "istio-system", "Istio's root namespace (mesh-wide policies)."],
  ["AUTHZ_POLICY_INFO_LOGGING", "authz-policy-info-logging", "false", "Log policy decisions at info."],
  [
    "ZT_TLS",
    "tls",
    "node",
    "TLS under HBONE: `node` (node:tls) or `openssl` (the system's libssl.so.3 through FFI; experimental, see README).",
  ],
  [
    "ZT_CAPTURE",
    "capture",
    "none",
    "`tproxy`: capture pods' traffic (15001/15006, after `zt redirect install`); `none`.",
  ],
  ["PROXY_MODE", "proxy-mode", "shared", "`shared` (one zt for the node's pods) or `dedicated`."],
  [
    "INPOD_ENABLED",
    "inpod-enabled",
    "false",
    "In-pod mode: take pods from istio-cni over ZDS (also on when INPOD_UDS is set).",
  ],
  ["INPOD_UDS", "inpod-uds", "/var/run/ztunnel/ztunnel.sock", "istio-cni's ZDS socket."],
  ["INPOD_PORT_REUSE", "inpod-port-reuse", "true", "SO_REUSEPORT on the per-pod listeners."],
  ["PACKET_MARK", "packet-mark", "1337 (shared mode)", "SO_MARK on every pod socket."],
  [
    "KEEPALIVE_ENABLED",
    "keepalive-enabled",
    "true",
    "TCP keepalive on zt's connections and captured sockets.",
  ],
  ["KEEPALIVE_TIME", "keepalive-time", "180s", "Idle time before the first keepalive probe."],
  ["KEEPALIVE_INTERVAL", "keepalive-interval", "180s", "Time between keepalive probes."],
  ["KEEPALIVE_RETRIES", "keepalive-retries", "9", "Unanswered probes before the connection is dropped."],
  [
    "USER_TIMEOUT_ENABLED",
    "user-timeout-enabled",
    "false",
    "TCP_USER_TIMEOUT = time + retries × interval on the same sockets.",
  ],
  // DNS proxy (lib/dns/)
  [
    "ISTIO_META_DNS_CAPTURE",
    "dns-capture",
    "(on)",
    "Each local pod's DNS proxy on port 15053; off when set to anything but `true` (also `DNS_CAPTURE` in PROXY_CONFIG's proxyMetadata).",
  ],
  [
    "ISTIO_META_DNS_PROXY_ADDR",
    "dns-proxy-addr",
    "localhost:15053",
    "DNS proxy address: `localhost:P` (in a pod 127.0.0.1 and ::1; in loopback mode the pod's IP) or one `IP:P`.",
  ],
  [
    "ZT_DNS_UPSTREAMS",
    "dns-upstreams",
    "(/etc/resolv.conf)",
    "Upstream resolvers for names outside the mesh, `ip:port,...`; default the nameservers of /etc/resolv.conf.",
  ],
  [
    "ZT_DNS_UPSTREAM_TIMEOUT",
    "dns-upstream-timeout",
    "(resolv.conf, else 5s)",
    "Timeout of one upstream try (two rounds over the servers, or resolv.conf's `attempts:`).",
  ],
  [
    "PREFERED_SERVICE_NAMESPACE",
    "prefered-service-namespace",
    "",
    "DNS tie-break among services sharing a hostname (deprecated in ztunnel).",
  ],
  [
    "IPV6_ENABLED",
    "ipv6-enabled",
    "true",
    "AAAA answers for mesh names; the DNS proxy's ::1 listener in a pod.",
  ],
] as const;

export type SettingName = (typeof SETTINGS)[number][0];

/** Reads the value of a setting: the flag (by its long name) first, then the environment. */
function reader(env: Env, flags: Readonly<Record<string, string | undefined>>) {
  return (name: SettingName): string | undefined => {
    const flag = SETTINGS.find((s) => s[0] === name)![1];
    return flags[flag] ?? env[name];
  };
}

function prefixed(env: Env, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith(prefix) && v !== undefined && k.length > prefix.length) {
      out[k.slice(prefix.length).toLowerCase()] = v; // as ztunnel: the name lowercased, underscores kept
    }
  }
  return out;
}

/** Builds the Config. `hostname` is the default NODE_NAME. Throws ConfigError on a bad value. */
export function loadConfig(
  env: Env,
  flags: Readonly<Record<string, string | undefined>> = {},
  hostname = "localhost",
): Config {
  const get = reader(env, flags);
  const str = (n: SettingName, d: string) => get(n) ?? d;
  const instanceIp = str("INSTANCE_IP", "127.0.0.1");
  if (!isIpLiteral(instanceIp)) throw new ConfigError("INSTANCE_IP", instanceIp, "expected an IP address");
  const localXdsPath = get("LOCAL_XDS_PATH") || undefined;
  const localXds = get("LOCAL_XDS") || undefined;
  if (localXdsPath && localXds) {
    throw new ConfigError(
      "LOCAL_XDS",
      localXds.slice(0, 40),
      "LOCAL_XDS and LOCAL_XDS_PATH are mutually exclusive",
    );
  }
  const localCaDir = get("LOCAL_CA_DIR") || undefined;
  // Standalone is the default: with a local config, xDS is off unless XDS_ADDRESS names istiod;
  // with a built-in CA, the Istio CA is off unless CA_ADDRESS names it.
  const istiodDefault = env.KUBERNETES_SERVICE_HOST
    ? "https://istiod.istio-system.svc:15012"
    : "https://localhost:15012";
  const xdsAddress = normalizeAddress(
    "XDS_ADDRESS",
    get("XDS_ADDRESS") ?? (localXdsPath || localXds ? "" : istiodDefault),
  );
  const caAddress = normalizeAddress("CA_ADDRESS", get("CA_ADDRESS") ?? (localCaDir ? "" : istiodDefault));
  const logFilter = str("RUST_LOG", "info");
  try {
    parseLogFilter(logFilter);
  } catch (e) {
    throw new ConfigError("RUST_LOG", logFilter, (e as Error).message);
  }
  const streamWindow = parseBytes(
    "HTTP2_STREAM_WINDOW_SIZE",
    str("HTTP2_STREAM_WINDOW_SIZE", "4194304"),
    65535,
  );
  // As ztunnel: admin on localhost (127.0.0.1 and ::1: "localhost"), metrics and readiness on [::]. A
  // loopback node (INSTANCE_IP unset or 127.x/::1; several share one machine) binds INSTANCE_IP instead.
  const loopbackIp = get("INSTANCE_IP") !== undefined && isLoopback(instanceIp);
  const ipv6 = parseBool("IPV6_ENABLED", get("IPV6_ENABLED") ?? "true");
  const wildcard = loopbackIp || get("INSTANCE_IP") === undefined ? instanceIp : ipv6 ? "::" : "0.0.0.0";
  const addr = (n: SettingName, port: number, host: string) =>
    parseHostPort(n, str(n, `${host.includes(":") ? `[${host}]` : host}:${port}`), host);
  const cfg: Config = {
    nodeName: str("NODE_NAME", hostname),
    instanceIp,
    podName: str("POD_NAME", "ztunnel"),
    podNamespace: str("POD_NAMESPACE", "istio-system"),
    serviceAccount: str("SERVICE_ACCOUNT", "ztunnel"),
    clusterId: env.ISTIO_META_CLUSTER_ID ?? str("CLUSTER_ID", "Kubernetes"),
    clusterDomain: str("CLUSTER_DOMAIN", "cluster.local"),
    trustDomain: str("TRUST_DOMAIN", "cluster.local"),
    network: str("NETWORK", ""),
    localXdsPath,
    localXds,
    localCaDir,
    xdsAddress,
    caAddress,
    xdsRootCa: str("XDS_ROOT_CA", "./var/run/secrets/istio/root-cert.pem"),
    caRootCa: str("CA_ROOT_CA", "./var/run/secrets/istio/root-cert.pem"),
    altXdsHostname: get("ALT_XDS_HOSTNAME") || undefined,
    altCaHostname: get("ALT_CA_HOSTNAME") || undefined,
    authToken: str("AUTH_TOKEN", "./var/run/secrets/tokens/istio-token"),
    xdsHeaders: prefixed(env, "XDS_HEADER_"),
    caHeaders: prefixed(env, "CA_HEADER_"),
    istioMetaEnv: istioMetaEnv(env),
    proxyMetadata: proxyMetadata(env.PROXY_CONFIG),
    secretTtlMs: secretTtl(str("SECRET_TTL", "24h")),
    poolMaxStreamsPerConnection: parseUint(
      "POOL_MAX_STREAMS_PER_CONNECTION",
      str("POOL_MAX_STREAMS_PER_CONNECTION", "100"),
      1,
      10_000,
    ),
    poolUnusedReleaseTimeoutMs: parseDuration(
      "POOL_UNUSED_RELEASE_TIMEOUT",
      str("POOL_UNUSED_RELEASE_TIMEOUT", "5m"),
    ),
    http2StreamWindowSize: streamWindow,
    http2ConnectionWindowSize: parseBytes(
      "HTTP2_CONNECTION_WINDOW_SIZE",
      str("HTTP2_CONNECTION_WINDOW_SIZE", String(Math.min(4 * streamWindow, 2 ** 31 - 1))),
      65535,
    ),
    http2FrameSize: parseBytes("HTTP2_FRAME_SIZE", str("HTTP2_FRAME_SIZE", "1048576"), 16384, 2 ** 24 - 1),
    connectionTerminationDeadlineMs: terminationDeadline(env, get),
    socks5Enabled: parseBool("UNSTABLE_ENABLE_SOCKS5", str("UNSTABLE_ENABLE_SOCKS5", "true")),
    adminAddr: addr("ADMIN_ADDR", 15000, loopbackIp ? instanceIp : "localhost"),
    statsAddr: addr("STATS_ADDR", 15020, wildcard),
    readinessAddr: addr("READINESS_ADDR", 15021, wildcard),
    logFilter,
    logFormat: parseEnum("LOG_FORMAT", str("LOG_FORMAT", "plain"), ["plain", "json"] as const),
    rootNamespace: str("ROOT_NAMESPACE", "istio-system"),
    tlsBackend: parseEnum("ZT_TLS", str("ZT_TLS", "node"), ["node", "openssl"] as const),
    captureMode: parseEnum("ZT_CAPTURE", str("ZT_CAPTURE", "none"), ["none", "tproxy"] as const),
    authzPolicyInfoLogging: parseBool("AUTHZ_POLICY_INFO_LOGGING", str("AUTHZ_POLICY_INFO_LOGGING", "false")),
    ...inpodSettings(get),
    keepalive: {
      enabled: parseBool("KEEPALIVE_ENABLED", str("KEEPALIVE_ENABLED", "true")),
      timeMs: parseDuration("KEEPALIVE_TIME", str("KEEPALIVE_TIME", "180s")),
      intervalMs: parseDuration("KEEPALIVE_INTERVAL", str("KEEPALIVE_INTERVAL", "180s")),
      retries: parseUint("KEEPALIVE_RETRIES", str("KEEPALIVE_RETRIES", "9"), 1, 127),
      userTimeout: parseBool("USER_TIMEOUT_ENABLED", str("USER_TIMEOUT_ENABLED", "false")),
    },
    ...dnsSettings(get, proxyMetadata(env.PROXY_CONFIG)),
  };
  return Object.freeze(cfg);
}

/** The DNS proxy's settings (ztunnel: DNS_CAPTURE and DNS_PROXY_ADDR from the ISTIO_META_* proxy metadata). */
function dnsSettings(get: (n: SettingName) => string | undefined, meta: Record<string, string>) {
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

function istioMetaEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && /^ISTIO_META(JSON)?_./.test(k)) out[k] = v;
  }
  return out;
}

/** `proxyMetadata` of a PROXY_CONFIG YAML document (values as strings); {} when unset. */
function proxyMetadata(text: string | undefined): Record<string, string> {
  if (!text?.trim()) return {};
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError("PROXY_CONFIG", text.slice(0, 40), `invalid YAML: ${(e as Error).message}`);
  }
  const meta = (doc as { proxyMetadata?: unknown } | null)?.proxyMetadata;
  if (meta === undefined || meta === null) return {};
  if (typeof meta !== "object" || Array.isArray(meta)) {
    throw new ConfigError("PROXY_CONFIG", text.slice(0, 40), "proxyMetadata must be a map");
  }
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)]));
}

function normalizeAddress(variable: string, value: string): string {
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

/** PROXY_MODE, INPOD_* and PACKET_MARK, as ztunnel reads them (plus INPOD_ENABLED, which the chart sets). */
function inpodSettings(get: (n: SettingName) => string | undefined) {
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

/**
 * SECRET_TTL, bounded to what can be issued and renewed: at least 1 minute, so that the half left after
 * the renewal at half-life holds two CA calls with their 10 s deadline and the 1 s retry between them
 * (shorter values never became ready, or renewed before their certificate could be used); at most 90 days,
 * istiod's default MAX_WORKLOAD_CERT_TTL, beyond which istiod refuses the request.
 */
export const SECRET_TTL_BOUNDS_MS = { min: 60_000, max: 90 * 86_400_000 } as const;

function secretTtl(value: string): number {
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

/** CONNECTION_TERMINATION_DEADLINE, else derived from TERMINATION_GRACE_PERIOD_SECONDS as ztunnel does. */
function terminationDeadline(env: Env, get: (n: SettingName) => string | undefined): number {
  const explicit = get("CONNECTION_TERMINATION_DEADLINE");
  if (explicit !== undefined) return parseDuration("CONNECTION_TERMINATION_DEADLINE", explicit);
  const grace = env.TERMINATION_GRACE_PERIOD_SECONDS;
  if (grace === undefined) return 5000;
  const g = parseUint("TERMINATION_GRACE_PERIOD_SECONDS", grace);
  return Math.max(1, g > 10 ? g - 5 : g - 1) * 1000;
}

/** The config as config_dump shows it (secrets and inline config left out). */
export function configForDump(c: Config): Record<string, unknown> {
  const { localXds: _inline, ...rest } = c;
  return { ...rest, authToken: undefined };
}
