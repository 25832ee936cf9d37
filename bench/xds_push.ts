/**
 * xDS push apply time (issue 7): istiod's initial push for a 10,000-pod mesh, 10,000 Workloads +
 * 1,000 Services as one `istio.workload.Address` DeltaDiscoveryResponse and 1,000 Authorizations as
 * one `istio.security.Authorization` response, taken from the encoded bytes to a populated
 * ProxyState through zt's own xDS handlers (decode, convert, index; one state batch per push).
 *
 * Compared with the same bytes decoded only (envelope + every resource body with protobufjs, no
 * conversion, no state): the difference is what zt's state handling costs. `heapDeltaMiB` is the
 * heap the populated state holds (heapUsed after minus before, both after a full GC when run with
 * `--v8-flags=--expose-gc`; without it the number includes garbage and is an upper bound).
 *
 *   deno run -A --v8-flags=--expose-gc bench/xds_push.ts
 */
import { silentLogger } from "../lib/log/logger.ts";
import {
  AUTHORIZATION_TYPE_URL,
  decodeAuthorization,
  encodeAuthorization,
} from "../lib/policy/authorization_from_xds.ts";
import { ipBytes } from "../lib/state/ip.ts";
import { ProxyState } from "../lib/state/proxy_state.ts";
import { ADDRESS_TYPE_URL, decodeAddress, encodeAddress } from "../lib/state/workload_from_xds.ts";
import { addressHandler, authorizationHandler } from "../lib/state/xds_handlers.ts";
import type { XdsHandler, XdsResourceUpdate } from "../lib/xds/ads_client.ts";
import { deltaResponseCodec, type XdsResourceMessage } from "../lib/xds/proto.ts";

export const WORKLOADS = 10_000;
export const SERVICES = 1_000;
export const POLICIES = 1_000;
const NAMESPACES = 50;
const RUNS = 5;

function ip4(a: number, i: number): Uint8Array {
  return ipBytes(`10.${a}.${(i >> 8) & 255}.${i & 255}`)!;
}

function any(typeUrl: string, value: Uint8Array) {
  return { typeUrl, value };
}

/** The two encoded responses: Address (workloads + services), Authorization (policies). */
export function buildPush(): { address: Uint8Array; authorization: Uint8Array } {
  const addresses: XdsResourceMessage[] = [];
  for (let i = 0; i < WORKLOADS; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const svc = `svc-${i % SERVICES}`;
    const uid = `Kubernetes//Pod/${ns}/pod-${i}`;
    addresses.push({
      name: uid,
      version: "1",
      aliases: [`/10.1.${(i >> 8) & 255}.${i & 255}`],
      resource: any(
        ADDRESS_TYPE_URL,
        encodeAddress({
          workload: {
            uid,
            name: `pod-${i}`,
            namespace: ns,
            addresses: [ip4(1, i)],
            tunnelProtocol: 1,
            serviceAccount: `sa-${i % 100}`,
            node: `node-${i % 20}`,
            canonicalName: svc,
            canonicalRevision: "v1",
            workloadName: `deploy-${i % SERVICES}`,
            clusterId: "Kubernetes",
            locality: { region: "us-east1", zone: `us-east1-${"bcd"[i % 3]}` },
            services: {
              [`${ns}/${svc}.${ns}.svc.cluster.local`]: {
                ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443, targetPort: 8443 }],
              },
            },
            authorizationPolicies: i % 10 === 0 ? [`${ns}/policy-${i % POLICIES}`] : [],
          },
        }),
      ),
    });
  }
  for (let i = 0; i < SERVICES; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const hostname = `svc-${i}.${ns}.svc.cluster.local`;
    addresses.push({
      name: `${ns}/${hostname}`,
      version: "1",
      aliases: [`/10.96.${(i >> 8) & 255}.${i & 255}`],
      resource: any(
        ADDRESS_TYPE_URL,
        encodeAddress({
          service: {
            name: `svc-${i}`,
            namespace: ns,
            hostname,
            addresses: [{ network: "", address: ip4(96, i) }],
            ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443, targetPort: 8443 }],
          },
        }),
      ),
    });
  }
  const policies: XdsResourceMessage[] = [];
  for (let i = 0; i < POLICIES; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    policies.push({
      name: `${ns}/policy-${i}`,
      version: "1",
      resource: any(
        AUTHORIZATION_TYPE_URL,
        encodeAuthorization({
          name: `policy-${i}`,
          namespace: ns,
          scope: 2,
          action: i % 4 === 3 ? 1 : 0,
          rules: [{
            clauses: [{
              matches: [{
                principals: [{ exact: `cluster.local/ns/${ns}/sa/client` }, {
                  prefix: "cluster.local/ns/prod/",
                }],
                destinationPorts: [8080, 8443],
              }],
            }],
          }],
        }),
      ),
    });
  }
  return {
    address: deltaResponseCodec.encode({ typeUrl: ADDRESS_TYPE_URL, nonce: "a", resources: addresses }),
    authorization: deltaResponseCodec.encode({
      typeUrl: AUTHORIZATION_TYPE_URL,
      nonce: "p",
      resources: policies,
    }),
  };
}

/** Decode only: the envelope and every body, kept in an array so nothing is optimised away. */
function decodeOnly(push: { address: Uint8Array; authorization: Uint8Array }): unknown[] {
  const out: unknown[] = [];
  for (const r of deltaResponseCodec.decode(push.address).resources) {
    out.push(decodeAddress(r.resource!.value));
  }
  for (const r of deltaResponseCodec.decode(push.authorization).resources) {
    out.push(decodeAuthorization(r.resource!.value));
  }
  return out;
}

/** What the ADS client does with a response: envelope decode, then the handler. */
function deliver(handler: XdsHandler, bytes: Uint8Array): number {
  const res = deltaResponseCodec.decode(bytes);
  const updates: XdsResourceUpdate[] = res.resources.map((r) => ({
    name: r.name,
    version: r.version,
    aliases: r.aliases ?? [],
    body: r.resource!.value,
  }));
  return handler.apply(updates, res.removedResources ?? []).size;
}

/** Decode + apply into a fresh ProxyState through zt's handlers. */
function apply(push: { address: Uint8Array; authorization: Uint8Array }): ProxyState {
  const state = new ProxyState();
  const opts = { state, log: silentLogger() };
  const rejected = deliver(addressHandler(opts), push.address) +
    deliver(authorizationHandler(opts), push.authorization);
  if (rejected !== 0) throw new Error(`${rejected} resources rejected`);
  return state;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  if (gc) {
    gc();
    gc();
  }
  return Deno.memoryUsage().heapUsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed<T>(fn: () => T): [number, T] {
  const t0 = performance.now();
  const v = fn();
  return [performance.now() - t0, v];
}

export interface XdsPushResult {
  resources: number;
  bytes: number;
  decodeOnlyMs: number;
  applyMs: number;
  heapDeltaMiB: number;
}

/** Median of warm runs (the first run of each is a warm-up and is dropped). */
export async function benchXdsPush(): Promise<XdsPushResult> {
  const push = buildPush();
  const decodeRuns: number[] = [];
  const applyRuns: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const [d, decoded] = timed(() => decodeOnly(push));
    if (decoded.length !== WORKLOADS + SERVICES + POLICIES) throw new Error("decode lost resources");
    const [a, state] = timed(() => apply(push));
    if (state.allWorkloads().length !== WORKLOADS || state.allServices().length !== SERVICES) {
      throw new Error("apply lost resources");
    }
    if (i > 0) {
      decodeRuns.push(d);
      applyRuns.push(a);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  const before = heapUsed();
  const state = apply(push);
  const after = heapUsed();
  if (state.allPolicies().length !== POLICIES) throw new Error("apply lost policies");
  return {
    resources: WORKLOADS + SERVICES + POLICIES,
    bytes: push.address.length + push.authorization.length,
    decodeOnlyMs: Math.round(median(decodeRuns) * 10) / 10,
    applyMs: Math.round(median(applyRuns) * 10) / 10,
    heapDeltaMiB: Math.round(((after - before) / 1048576) * 10) / 10,
  };
}

if (import.meta.main) {
  const r = await benchXdsPush();
  console.log(JSON.stringify(r));
  console.error(
    `xDS push: ${r.resources} resources, ${
      (r.bytes / 1e6).toFixed(2)
    } MB; decode only ${r.decodeOnlyMs} ms, ` +
      `decode + apply into ProxyState ${r.applyMs} ms (state handling +${
        (r.applyMs - r.decodeOnlyMs).toFixed(1)
      } ms); ` +
      `state holds ${r.heapDeltaMiB} MiB${gc ? "" : " (no --expose-gc: upper bound)"}`,
  );
}
