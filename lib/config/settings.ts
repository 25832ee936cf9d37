/**
 * The settings zt reads, by ztunnel's environment names: each with its command-line flag, its default and
 * what it means (the README's environment table is checked against this list).
 */

/** The process environment, or any stand-in for it. */
export type Env = Readonly<Record<string, string | undefined>>;

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
  [
    "UNSTABLE_ENABLE_SOCKS5",
    "enable-socks5",
    "`true`; `false` in in-pod mode",
    "SOCKS5 listener on port 15080 of each local pod (ztunnel's default is off; standalone nodes use it as their entry).",
  ],
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

/** The value of one setting, or undefined when neither its flag nor its variable is set. */
export type SettingReader = (name: SettingName) => string | undefined;

/** Reads the value of a setting: the flag (by its long name) first, then the environment. */
export function settingReader(env: Env, flags: Readonly<Record<string, string | undefined>>): SettingReader {
  return (name) => {
    const flag = SETTINGS.find((s) => s[0] === name)![1];
    return flags[flag] ?? env[name];
  };
}
