/**
 * zt's config_dump read by istioctl's own code (tests/peers/istioctl_dump: istio.io/istio's
 * istioctl/pkg/writer/ztunnel/configdump): `istioctl ztunnel-config workloads|services|policies|
 * certificates|connections|all` print zt's data, and `-o json` (istioctl's structs re-marshalled) keeps
 * every field istioctl declares, so none is misnamed or mistyped in zt's dump.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { buildConfigDump } from "../../lib/admin/config_dump.ts";
import { certDump } from "../../lib/identity/certificate.ts";
import { WorkloadStateView } from "../../lib/inpod/workload_state_view.ts";
import type { RunningPod } from "../../lib/inpod/pod_launcher.ts";
import type { NetnsId } from "../../lib/net/netns.ts";
import { goAvailable } from "../fakes/go_peer.ts";
import { makeTestPki } from "../fakes/test_pki.ts";
import { istioctlView, tableRows } from "../peers/istioctl_dump/istioctl_dump.ts";
import { HTTPBIN, sampleSource, sampleState, SLEEP } from "./sample_mesh.ts";

const GO = await goAvailable();
if (!GO) {
  console.warn("istioctl config_dump tests ignored: `go` is not on PATH, so the Go peer cannot be built");
}

type Json = unknown;

/** Go's zero values, as encoding/json writes a field that zt's dump did not set. */
function isZero(v: Json): boolean {
  if (v === null || v === "" || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.values(v as object).every(isZero);
  return false;
}

/**
 * istioctl's re-marshalled value `go` against zt's `zt`: every field istioctl has is zt's value (same
 * name, same type), or Go's zero value where zt left the field out (its default).
 */
function assertIstioctlSees(go: Json, zt: Json, path: string): void {
  if (Array.isArray(go)) {
    assert.ok(Array.isArray(zt), `${path}: zt has an array`);
    assert.equal(go.length, zt.length, `${path}: length`);
    go.forEach((g, i) => assertIstioctlSees(g, zt[i], `${path}[${i}]`));
  } else if (go !== null && typeof go === "object") {
    assert.ok(zt !== null && typeof zt === "object", `${path}: zt has an object, got ${JSON.stringify(zt)}`);
    for (const [k, g] of Object.entries(go)) {
      const z = (zt as Record<string, Json>)[k];
      if (z === undefined || z === null) {
        assert.ok(isZero(g), `${path}.${k}: istioctl read ${JSON.stringify(g)}`);
      } else assertIstioctlSees(g, z, `${path}.${k}`);
    }
  } else if (/\.cidrVips\[\d+\]$/.test(path) && zt !== null && typeof zt === "object") {
    // istioctl reads ztunnel's {cidr, network} (and the older "network/cidr") and writes the string form.
    const { network, cidr } = zt as { network: string; cidr: string };
    assert.equal(go, `${network}/${cidr}`, path);
  } else {
    assert.deepEqual(go, zt, path);
  }
}

function fakePod(connections: ReturnType<RunningPod["connections"]>): RunningPod {
  return {
    netnsId: { dev: 1n, ino: 2n } as unknown as NetnsId,
    stop: () => Promise.resolve(),
    connections: () => connections,
  };
}

async function sampleDump(): Promise<Record<string, unknown>> {
  const pki = await makeTestPki();
  try {
    const cert = await pki.issue("ambient-demo", "httpbin");
    const certificates = [
      {
        identity: "spiffe://cluster.local/ns/ambient-demo/sa/httpbin",
        state: "Available",
        certChain: cert.certChainPem.map(certDump),
        rootCerts: cert.rootsPem.map(certDump),
      },
      {
        identity: "spiffe://cluster.local/ns/ambient-demo/sa/sleep",
        state: "Initializing",
        certChain: [],
        rootCerts: [],
      },
    ];
    const ws = new WorkloadStateView();
    const sleepInfo = { name: SLEEP.name, namespace: SLEEP.namespace, serviceAccount: "sleep" };
    const httpbinInfo = { name: HTTPBIN.name, namespace: HTTPBIN.namespace, serviceAccount: "httpbin" };
    ws.up(
      "uid-sleep",
      sleepInfo,
      fakePod({
        inbound: [],
        outbound: [{
          src: "10.244.2.58:41000",
          originalDst: "10.96.0.20:8000",
          actualDst: "10.240.1.5:15008",
          protocol: "HBONE",
        }],
      }),
    );
    ws.up(
      "uid-httpbin",
      httpbinInfo,
      fakePod({
        inbound: [{
          src: "10.244.2.58:41000",
          originalDst: null,
          actualDst: "10.240.1.5:8080",
          protocol: "HBONE",
        }],
        outbound: [],
      }),
    );
    ws.pending("uid-late", { name: "late-1", namespace: "late", serviceAccount: "default" });
    const dump = buildConfigDump({
      ...sampleSource(sampleState(), certificates),
      workloadState: ws.toJson(),
    });
    return JSON.parse(JSON.stringify(dump));
  } finally {
    await pki.cleanup();
  }
}

Deno.test({
  name: "istioctl ztunnel-config reads zt's config_dump: tables and -o json from istioctl's own structs",
  ignore: !GO,
  fn: async () => {
    const dump = await sampleDump();
    const view = await istioctlView({ dump: JSON.stringify(dump) });

    assert.deepEqual(tableRows(view.workloads.short), [
      ["NAMESPACE", "POD", "NAME", "ADDRESS", "NODE", "WAYPOINT", "PROTOCOL"],
      ["ambient-demo", "httpbin-648cd984f8-2q9bn", "10.240.1.5", "amb1-worker", "waypoint", "HBONE"],
      ["ambient-demo", "sleep-7656cf8794-lxcmx", "10.244.2.58", "amb1-worker2", "None", "HBONE"],
      ["ambient-demo", "waypoint-5cdd6745d5-rc2gg", "10.240.1.9", "amb1-worker", "None", "TCP"],
      ["late", "early-1", "10.240.3.3", "node-a", "None", "HBONE"],
    ]);
    assert.deepEqual(tableRows(view.services.short), [
      ["NAMESPACE", "SERVICE", "NAME", "SERVICE", "VIP", "WAYPOINT", "ENDPOINTS"],
      ["ambient-demo", "httpbin", "10.96.0.20", "waypoint", "0/1"], // its one endpoint is Unhealthy
      ["ambient-demo", "sleep", "10.96.0.30", "None", "1/1"],
      ["ambient-demo", "waypoint", "10.96.0.40", "None", "1/1"],
    ]);
    assert.deepEqual(tableRows(view.policies.short), [
      ["NAMESPACE", "POLICY", "NAME", "ACTION", "SCOPE"],
      ["ambient-demo", "allow-sleep", "Allow", "WorkloadSelector"],
      ["kube-system", "deny-all", "Deny", "Namespace"],
    ]);

    // certificates: the leaf then the root, valid now, serials as istioctl prints them (hex)
    const certs = dump.certificates as Array<{ certChain: Array<{ pem: string }>; rootCerts: unknown[] }>;
    const serial = (b64: string) =>
      new X509Certificate(atob(b64)).serialNumber.toLowerCase().replace(/^0+/, "");
    const certRows = tableRows(view.certificates.short).slice(1);
    const id = "spiffe://cluster.local/ns/ambient-demo/sa/httpbin";
    assert.equal(certRows.length, certs[0].certChain.length + certs[0].rootCerts.length + 1);
    assert.deepEqual(certRows[0].slice(0, 5), [
      id,
      "Leaf",
      "Available",
      "true",
      serial(certs[0].certChain[0].pem),
    ]);
    assert.deepEqual(certRows.at(-2)!.slice(0, 4), [id, "Root", "Available", "true"]);
    assert.deepEqual(certRows.at(-1), [
      "spiffe://cluster.local/ns/ambient-demo/sa/sleep",
      "NA",
      "Initializing",
      "false",
      "NA",
      "NA",
      "NA",
    ]);

    // connections: workloadState, addresses named by istioctl from the workloads and services
    assert.deepEqual(tableRows(view.connections.short), [
      ["WORKLOAD", "DIRECTION", "LOCAL", "REMOTE", "REMOTE", "TARGET", "PROTOCOL"],
      [
        `${HTTPBIN.name}.ambient-demo`,
        "Inbound",
        `${HTTPBIN.name}.ambient-demo:8080`,
        `${SLEEP.name}.ambient-demo:41000`,
        "HBONE",
      ],
      [
        `${SLEEP.name}.ambient-demo`,
        "Outbound",
        `${SLEEP.name}.ambient-demo:41000`,
        `${HTTPBIN.name}.ambient-demo:15008`,
        "httpbin.ambient-demo.svc.cluster.local:8000",
        "HBONE",
      ],
    ]);

    // -o json: istioctl's structs carry zt's values, field for field
    const byNsName = (a: { info: { namespace: string; name: string } }, b: typeof a) =>
      `${a.info.namespace}/${a.info.name}` < `${b.info.namespace}/${b.info.name}` ? -1 : 1;
    const wantConnections = Object.values(dump.workloadState as Record<string, never>).sort(byNsName);
    const pairs: Array<[string, Json, Json]> = [
      ["workloads", JSON.parse(view.workloads.json), dump.workloads],
      ["services", JSON.parse(view.services.json), dump.services],
      ["policies", JSON.parse(view.policies.json), dump.policies],
      ["certificates", JSON.parse(view.certificates.json), dump.certificates],
      ["connections", JSON.parse(view.connections.json), wantConnections],
    ];
    for (const [name, go, zt] of pairs) assertIstioctlSees(go, zt, name);
    // `all -o json` is the dump as served
    assert.deepEqual(JSON.parse(view.all.json), dump);
    // `all`: every table above, as istioctl's full summary prints them
    for (const c of ["workloads", "services", "policies", "certificates", "connections"] as const) {
      assert.ok(view.all.short.includes(view[c].short), `all includes ${c}`);
    }
  },
});

Deno.test({
  name: "istioctl refuses a dump whose shape it cannot read (the peer reports istioctl's error)",
  ignore: !GO,
  fn: async () => {
    await assert.rejects(
      () => istioctlView({ dump: JSON.stringify({ workloads: [{ workloadIps: "10.0.0.1" }] }) }),
      /cannot unmarshal string into Go struct field ZtunnelWorkload.workloadIps/,
    );
  },
});
