/** ztunnel's well-known ports, named once. */

/** Outbound capture, in each pod's netns (istio-cni REDIRECTs the pod's outgoing TCP here). */
export const OUTBOUND_PORT = 15001;
/** Inbound plaintext capture, in each pod's netns (REDIRECT of incoming TCP other than 15008). */
export const INBOUND_PLAINTEXT_PORT = 15006;
/** HBONE (mTLS HTTP/2 CONNECT), each pod's inbound tunnel port. */
export const HBONE_PORT = 15008;
/** DNS proxy (UDP and TCP), in each pod's netns. */
export const DNS_PORT = 15053;
/** SOCKS5 outbound entry. */
export const SOCKS5_PORT = 15080;
/** Node-level servers. */
export const ADMIN_PORT = 15000;
export const STATS_PORT = 15020;
export const READINESS_PORT = 15021;

/** Ports of zt's own proxies: never a destination (ztunnel's illegal_ports: a self-call). */
export const PROXY_PORTS: ReadonlySet<number> = new Set([
  OUTBOUND_PORT,
  INBOUND_PLAINTEXT_PORT,
  HBONE_PORT,
  SOCKS5_PORT,
]);
