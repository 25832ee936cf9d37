/**
 * A mesh served by a fake istiod for xDS-mode integration tests: a test PKI as istiod's CA, the
 * fake serving Delta ADS and CreateCertificate over TLS, its root and a token in files, and real
 * zt nodes started with XDS_ADDRESS / CA_ADDRESS pointing at it (no LOCAL_XDS_PATH, no LOCAL_CA_DIR).
 */
import { FakeIstiod, type FakeResource, type RecordedRequest, signingCaHandler } from "./fake_istiod.ts";
import { makeTestPki, type TestPki } from "./test_pki.ts";
import { type NodeProcess, startNode } from "./zt_node.ts";
import { ADDRESS_TYPE_URL } from "../../lib/state/workload_from_xds.ts";
import { AUTHORIZATION_TYPE_URL } from "../../lib/policy/authorization_from_xds.ts";
import type { CaHandler } from "./fake_istiod.ts";
import { makeControlPlaneCa } from "./grpc_tls.ts";
import { socks5Connect } from "./socks5_client.ts";
import { pattern, sameBytes } from "./mesh_config.ts";

export { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL };

export const TOKEN = "xds-test-jwt";

export interface XdsMesh {
  readonly pki: TestPki;
  readonly istiod: FakeIstiod;
  readonly dir: string;
  readonly rootCaPath: string;
  readonly tokenPath: string;
  /** The environment that points a node at the fake istiod. */
  nodeEnv(extra?: Record<string, string>): Record<string, string>;
  /** Starts a node in xDS mode without waiting for readiness. */
  startNode(n: { name: string; ip: string }, env?: Record<string, string>): Promise<NodeProcess>;
  /** Pushes to every open stream and waits for `streams` replies to it (ACK or NACK). */
  push(
    typeUrl: string,
    resources: readonly FakeResource[],
    removed?: readonly string[],
    streams?: number,
  ): Promise<RecordedRequest[]>;
  /** Waits until `n` streams sent their initial request for both types (counting from `since`). */
  initialRequests(n: number, since?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export interface XdsMeshOptions {
  readonly caHandler?: (pki: TestPki) => CaHandler;
  /**
   * Serve a certificate naming only this DNS name (not 127.0.0.1): nodes must be given it as
   * ALT_XDS_HOSTNAME / ALT_CA_HOSTNAME to accept the server.
   */
  readonly altHostname?: string;
}

export async function startXdsMesh(opts: XdsMeshOptions = {}): Promise<XdsMesh> {
  const pki = await makeTestPki();
  let tls;
  if (opts.altHostname) {
    const ca = await makeControlPlaneCa();
    tls = { ...(await ca.issueServer({ dns: [opts.altHostname] })), caPem: ca.caPem };
  }
  const caHandler = (opts.caHandler ?? ((p) => signingCaHandler(p.ca)))(pki);
  const istiod = await FakeIstiod.start({ caHandler, tls });
  const dir = await Deno.makeTempDir({ prefix: "zt-xds-" });
  const rootCaPath = `${dir}/istiod-root.pem`;
  const tokenPath = `${dir}/istio-token`;
  await Deno.writeTextFile(rootCaPath, istiod.caPem);
  await Deno.writeTextFile(tokenPath, `${TOKEN}\n`);
  const nodeEnv = (extra: Record<string, string> = {}) => ({
    XDS_ADDRESS: istiod.address,
    CA_ADDRESS: istiod.address,
    XDS_ROOT_CA: rootCaPath,
    CA_ROOT_CA: rootCaPath,
    AUTH_TOKEN: tokenPath,
    POD_NAMESPACE: "istio-system",
    ...(opts.altHostname ? { ALT_XDS_HOSTNAME: opts.altHostname, ALT_CA_HOSTNAME: opts.altHostname } : {}),
    ...extra,
  });
  return {
    pki,
    istiod,
    dir,
    rootCaPath,
    tokenPath,
    nodeEnv,
    startNode: (n, env = {}) =>
      startNode({ ...n, waitReady: false, env: nodeEnv({ POD_NAME: `ztunnel-${n.name}`, ...env }) }),
    async push(typeUrl, resources, removed = [], streams = istiod.activeStreams) {
      const nonce = istiod.push(typeUrl, resources, removed);
      return await istiod.waitFor(
        () => {
          const replies = istiod.requests.filter((r) => r.request.responseNonce === nonce);
          return replies.length >= streams ? replies : undefined;
        },
        10_000,
        `${streams} replies to ${nonce}`,
      );
    },
    initialRequests(n, since = 0) {
      return istiod.waitFor(
        () => {
          const initial = istiod.requests.slice(since).filter((r) => r.request.node);
          const streams = new Set(initial.map((r) => r.stream));
          return streams.size >= n && initial.length >= 2 * n ? initial : undefined;
        },
        20_000,
        `initial requests of ${n} streams`,
      );
    },
    async close() {
      await istiod.close();
      await pki.cleanup();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Polls `f` until it returns something other than undefined/false; throws after `timeoutMs`. */
export async function until<T>(
  f: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
}

/** Writes `data` on a live connection and reads exactly as many bytes back. */
export async function echoOnce(conn: Deno.Conn, data: Uint8Array): Promise<Uint8Array> {
  await conn.write(data);
  const out = new Uint8Array(data.length);
  let off = 0;
  while (off < out.length) {
    const n = await conn.read(out.subarray(off));
    if (n === null) throw new Error(`connection closed after ${off} of ${data.length} bytes`);
    off += n;
  }
  return out;
}

/** SOCKS5 from the pod at `src`: the reply code; on success one 2,000-byte payload echoed intact. */
export async function socksEcho(src: string, host: string, port: number, seed = 1): Promise<number> {
  const { reply, conn } = await socks5Connect({ ip: src, port: 15080 }, host, port);
  if (reply !== 0) return reply;
  try {
    const data = pattern(2000, seed);
    if (!sameBytes(await echoOnce(conn, data), data)) throw new Error("echoed bytes differ");
  } finally {
    conn.close();
  }
  return 0;
}

/** config_dump's mesh state (the fields the tests read). */
export async function stateDump(node: NodeProcess) {
  return await node.configDump() as {
    workloads: { uid: string; workloadIps: string[]; services?: string[] }[];
    services: { hostname: string }[];
    policies: { name: string }[];
    stagedServices: Record<string, unknown>;
  };
}

/** config_dump `certificates[]` (the fields the tests read). */
export interface DumpedCert {
  identity: string;
  state: string;
  certChain: { pem: string; serialNumber: string; validFrom: string; expirationTime: string }[];
  rootCerts: { pem: string; serialNumber: string }[];
}

export async function certificates(node: NodeProcess): Promise<DumpedCert[]> {
  return ((await node.configDump()).certificates ?? []) as DumpedCert[];
}
