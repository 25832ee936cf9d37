/**
 * The mesh the Istio HBONE interop tests share (tests/integration/istio_hbone_*_test.ts): one zt node
 * with a client pod `sleep` and a destination pod `echo`, a pod `istio-echo` on a node zt does not run
 * (its 15008 is Istio's Go server) behind a service VIP, and a DENY policy for the identity `intruder`.
 * Each test file takes its own 127.<net>.x.y addresses. The Go peer's certificates come from the same
 * `zt ca init` CA as the node's.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import type { DigestServer } from "./digest_server.ts";
import { meshPod, type PodSpec, TEST_NAMESPACE } from "./mesh_config.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "./zt_node.ts";
import { ztPermissions } from "./permissions.ts";
import {
  istioPattern,
  type PeerCertFiles,
  sha256Hex,
  writePeerCerts,
} from "../peers/istio_hbone/istio_peer.ts";

export const ECHO_PORT = 7070;
export const SERVICE_PORT = 7000;
export const MIB64 = 64 << 20;

export interface InteropMesh {
  readonly node: { readonly name: string; readonly ip: string };
  readonly sleep: PodSpec;
  readonly echo: PodSpec;
  readonly istioPod: PodSpec;
  readonly notAPod: string;
  readonly vip: string;
  readonly istioHost: string;
}

export function interopMesh(net: number): InteropMesh {
  const node = { name: "node-a", ip: `127.${net}.0.1` };
  return {
    node,
    sleep: { name: "sleep", ip: `127.${net}.1.1`, node: node.name },
    echo: { name: "echo", ip: `127.${net}.1.2`, node: node.name },
    istioPod: { name: "istio-echo", ip: `127.${net}.2.1`, node: "node-istio" },
    notAPod: `127.${net}.9.9`,
    vip: `10.96.${net}.1`,
    istioHost: `istio-echo.${TEST_NAMESPACE}.svc.cluster.local`,
  };
}

export const idOf = (sa: string): string => `spiffe://cluster.local/ns/${TEST_NAMESPACE}/sa/${sa}`;

function meshYaml(m: InteropMesh): string {
  const mesh = {
    workloads: [
      meshPod(m.sleep),
      meshPod(m.echo),
      meshPod({
        ...m.istioPod,
        extra: { services: { [`${TEST_NAMESPACE}/${m.istioHost}`]: { [SERVICE_PORT]: ECHO_PORT } } },
      }),
    ],
    services: [{
      name: "istio-echo",
      namespace: TEST_NAMESPACE,
      hostname: m.istioHost,
      vips: [`/${m.vip}`],
      ports: { [SERVICE_PORT]: ECHO_PORT },
    }],
  };
  const deny = {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "deny-intruder", namespace: TEST_NAMESPACE },
    spec: {
      action: "DENY",
      rules: [{ from: [{ source: { principals: [`cluster.local/ns/${TEST_NAMESPACE}/sa/intruder`] } }] }],
    },
  };
  return [mesh, deny].map((d) => stringify(d)).join("---\n");
}

const patterns = new Map<number, { bytes: Uint8Array; sha: string }>();

/** 64 MiB of the peer's pattern for `seed`, and its SHA-256 (computed once per process). */
export function pattern64(seed: number): { bytes: Uint8Array; sha: string } {
  let p = patterns.get(seed);
  if (!p) {
    const bytes = istioPattern(MIB64, seed);
    patterns.set(seed, p = { bytes, sha: sha256Hex(bytes) });
  }
  return p;
}

export type TlsBackend = "node" | "openssl";

/**
 * The node's permissions: permissions.txt's, or (`unscopedFfi`) with --allow-ffi unscoped, which lets
 * the OpenSSL backend register its ALPN callback (Deno.UnsafeCallback needs an unscoped grant).
 */
export function nodeFlags(unscopedFfi: boolean): string[] {
  const flags = ztPermissions();
  return unscopedFfi ? flags.map((f) => f.startsWith("--allow-ffi") ? "--allow-ffi" : f) : flags;
}

export interface InteropFixture {
  readonly dir: string;
  readonly node: NodeProcess;
  readonly apps: DigestServer[];
  /** Mints a certificate for ops/<sa> from the node's CA, as files for the Go peer. */
  certs(sa: string): Promise<PeerCertFiles>;
  cleanup(): Promise<void>;
}

export async function startInterop(
  m: InteropMesh,
  tls: TlsBackend,
  apps: Array<() => DigestServer>,
  denoFlags: string[] = nodeFlags(false),
): Promise<InteropFixture> {
  const dir = await Deno.makeTempDir({ prefix: "zt-istio-hbone-" });
  const { caDir, configPath } = await writeMeshFiles(dir, meshYaml(m));
  const running = apps.map((start) => start());
  let node: NodeProcess;
  try {
    node = await startNode({ ...m.node, caDir, configPath, env: { ZT_TLS: tls }, denoFlags });
  } catch (e) {
    await Promise.all(running.map((a) => a.close()));
    throw e;
  }
  const ca = await BuiltinCa.load(caDir);
  return {
    dir,
    node,
    apps: running,
    async certs(sa) {
      const id = { trustDomain: "cluster.local", namespace: TEST_NAMESPACE, serviceAccount: sa };
      return await writePeerCerts(dir, sa, await ca.sign(id, 600_000));
    },
    async cleanup() {
      const code = await node.stop();
      await Promise.all(running.map((a) => a.close()));
      await Deno.remove(dir, { recursive: true });
      assert.equal(code, 0, "the node drains and exits 0");
    },
  };
}

/** The node's access-log record of a finished connection in `direction` for `authority`. */
export const completed =
  (direction: "inbound" | "outbound", authority: string) => (l: Record<string, unknown>) =>
    l.message === "connection complete" && l.direction === direction && l["dst.hbone_addr"] === authority;
