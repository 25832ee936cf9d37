/**
 * A large push: 10,000 Workloads + 1,000 Services + 1,000 Authorizations in one
 * DeltaDiscoveryResponse, decoded with protobufjs reflection (Root.fromJSON) and converted.
 * Prints the timings (numbers measured here are in lib/xds/proto.ts's header).
 */
import assert from "node:assert/strict";
import {
  AUTHORIZATION_TYPE_URL,
  authorizationFromXdsBytes,
  encodeAuthorization,
} from "../../lib/policy/authorization_from_xds.ts";
import { ipBytes } from "../../lib/state/ip.ts";
import { ADDRESS_TYPE_URL, addressFromXdsBytes, encodeAddress } from "../../lib/state/workload_from_xds.ts";
import { deltaResponseCodec, type XdsResourceMessage } from "../../lib/xds/proto.ts";

function ip4(i: number, base: number): Uint8Array {
  return ipBytes(`10.${base}.${(i >> 8) & 255}.${i & 255}`)!;
}

export function largePush(workloads = 10_000, services = 1_000, policies = 1_000): Uint8Array {
  const resources: XdsResourceMessage[] = [];
  for (let i = 0; i < workloads; i++) {
    const ns = `ns-${i % 50}`;
    const svc = `svc-${i % services}`;
    resources.push({
      name: `Kubernetes//Pod/${ns}/pod-${i}`,
      version: `v${i}`,
      aliases: [`/10.1.${(i >> 8) & 255}.${i & 255}`],
      resource: {
        typeUrl: ADDRESS_TYPE_URL,
        value: encodeAddress({
          workload: {
            uid: `Kubernetes//Pod/${ns}/pod-${i}`,
            name: `pod-${i}`,
            namespace: ns,
            addresses: [ip4(i, 1)],
            tunnelProtocol: 1,
            serviceAccount: `sa-${i % 100}`,
            node: `node-${i % 20}`,
            canonicalName: svc,
            canonicalRevision: "v1",
            workloadName: `deploy-${i % services}`,
            workloadType: 0,
            clusterId: "Kubernetes",
            locality: { region: "us-east1", zone: `us-east1-${"bcd"[i % 3]}` },
            services: {
              [`${ns}/${svc}.${ns}.svc.cluster.local`]: {
                ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443, targetPort: 8443 }],
              },
            },
            authorizationPolicies: i % 10 === 0 ? [`${ns}/policy-${i % policies}`] : [],
          },
        }),
      },
    });
  }
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % 50}`;
    resources.push({
      name: `${ns}/svc-${i}.${ns}.svc.cluster.local`,
      version: `v${i}`,
      aliases: [`/10.96.${(i >> 8) & 255}.${i & 255}`],
      resource: {
        typeUrl: ADDRESS_TYPE_URL,
        value: encodeAddress({
          service: {
            name: `svc-${i}`,
            namespace: ns,
            hostname: `svc-${i}.${ns}.svc.cluster.local`,
            addresses: [{ network: "", address: ip4(i, 96) }],
            ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443, targetPort: 8443 }],
          },
        }),
      },
    });
  }
  for (let i = 0; i < policies; i++) {
    const ns = `ns-${i % 50}`;
    resources.push({
      name: `${ns}/policy-${i}`,
      version: `v${i}`,
      resource: {
        typeUrl: AUTHORIZATION_TYPE_URL,
        value: encodeAuthorization({
          name: `policy-${i}`,
          namespace: ns,
          scope: 2,
          action: 0,
          rules: [{
            clauses: [{
              matches: [{
                principals: [{ exact: `spiffe://cluster.local/ns/${ns}/sa/client` }, {
                  prefix: "spiffe://cluster.local/ns/prod/",
                }],
                destinationPorts: [8080, 8443],
              }],
            }],
          }],
        }),
      },
    });
  }
  return deltaResponseCodec.encode({ typeUrl: ADDRESS_TYPE_URL, nonce: "big", resources });
}

Deno.test("a 10k-workload push decodes and converts (timed)", () => {
  const bytes = largePush();
  const mb = bytes.length / 1e6;
  const runs: { envelope: number; convert: number }[] = [];
  for (let run = 0; run < 4; run++) {
    const t0 = performance.now();
    const res = deltaResponseCodec.decode(bytes);
    const t1 = performance.now();
    let workloads = 0, services = 0, policies = 0;
    for (const r of res.resources) {
      if (r.resource!.typeUrl === AUTHORIZATION_TYPE_URL) {
        authorizationFromXdsBytes(r.resource!.value);
        policies++;
      } else {
        const u = addressFromXdsBytes(r.resource!.value);
        if (u.kind === "workload") workloads++;
        else services++;
      }
    }
    const t2 = performance.now();
    assert.deepEqual([workloads, services, policies], [10_000, 1_000, 1_000]);
    runs.push({ envelope: t1 - t0, convert: t2 - t1 });
  }
  const best = runs.slice(1).reduce((a, b) => (a.envelope + a.convert <= b.envelope + b.convert ? a : b));
  const total = best.envelope + best.convert;
  console.log(
    `large push: ${mb.toFixed(2)} MB, 12,000 resources; cold ${
      (runs[0].envelope + runs[0].convert).toFixed(0)
    } ms; ` +
      `warm envelope ${best.envelope.toFixed(1)} ms + bodies/convert ${best.convert.toFixed(1)} ms = ` +
      `${total.toFixed(1)} ms (${(mb / (total / 1000)).toFixed(1)} MB/s)`,
  );
  // Generous bound: a regression to something pathological (seconds) should fail.
  assert.ok(total < 5000, `took ${total} ms`);
});
