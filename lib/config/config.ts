/**
 * One immutable Config from environment variables (ztunnel's names) and command-line flags.
 * Flags win over the environment. A bad value fails with a message naming the variable and the value.
 */
import {
  ConfigError,
  isIpLiteral,
  normalizeAddress,
  parseBool,
  parseBytes,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseUint,
} from "./parse.ts";
import { dnsSettings } from "./dns_settings.ts";
import { inpodSettings } from "./inpod_settings.ts";
import { istioMetaEnv, proxyMetadata } from "./proxy_metadata.ts";
import { parseSecretTtl } from "./secret_ttl.ts";
import { type Env, type SettingName, type SettingReader, settingReader } from "./settings.ts";
import { parseLogFilter } from "../log/logger.ts";
import { isLoopback } from "../state/ip.ts";

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
  const get = settingReader(env, flags);
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
  const inpod = inpodSettings(get);
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
    secretTtlMs: parseSecretTtl(str("SECRET_TTL", "24h")),
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
    // ztunnel opens no SOCKS5 listener unless asked; standalone nodes keep it (their clients' entry).
    socks5Enabled: parseBool(
      "UNSTABLE_ENABLE_SOCKS5",
      str("UNSTABLE_ENABLE_SOCKS5", inpod.inpodEnabled ? "false" : "true"),
    ),
    adminAddr: addr("ADMIN_ADDR", 15000, loopbackIp ? instanceIp : "localhost"),
    statsAddr: addr("STATS_ADDR", 15020, wildcard),
    readinessAddr: addr("READINESS_ADDR", 15021, wildcard),
    logFilter,
    logFormat: parseEnum("LOG_FORMAT", str("LOG_FORMAT", "plain"), ["plain", "json"] as const),
    rootNamespace: str("ROOT_NAMESPACE", "istio-system"),
    tlsBackend: parseEnum("ZT_TLS", str("ZT_TLS", "node"), ["node", "openssl"] as const),
    captureMode: parseEnum("ZT_CAPTURE", str("ZT_CAPTURE", "none"), ["none", "tproxy"] as const),
    authzPolicyInfoLogging: parseBool("AUTHZ_POLICY_INFO_LOGGING", str("AUTHZ_POLICY_INFO_LOGGING", "false")),
    ...inpod,
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

/** CONNECTION_TERMINATION_DEADLINE, else derived from TERMINATION_GRACE_PERIOD_SECONDS as ztunnel does. */
function terminationDeadline(env: Env, get: SettingReader): number {
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
