import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { buildConfigDump } from "../../lib/admin/config_dump.ts";
import {
  formatAll,
  formatPolicies,
  formatSecrets,
  formatServices,
  formatWorkloads,
  renderTable,
  serialToHex,
  toJson,
  toYaml,
} from "../../lib/admin/proxy_config_view.ts";
import { certDump } from "../../lib/identity/certificate.ts";
import { makeTestPki } from "../fakes/test_pki.ts";
import { sampleSource, sampleState } from "./sample_mesh.ts";

function sampleDump(certificates: unknown[] = []): unknown {
  return JSON.parse(JSON.stringify(buildConfigDump(sampleSource(sampleState(), certificates))));
}

Deno.test("tables are padded like tabwriter: widest cell + padding, last column unpadded", () => {
  assert.equal(renderTable([["A", "BB", "C"], ["aaa", "b", "cccc"]], 1), "A   BB C\naaa b  cccc\n");
  assert.equal(renderTable([["X", "Y"], ["x", "y"]], 5), "X     Y\nx     y\n");
});

Deno.test("proxy-config workloads: istioctl columns, sorted by namespace.name, waypoint by service name", () => {
  assert.equal(
    formatWorkloads(sampleDump()),
    [
      "NAME                      NAMESPACE    IP          NODE         WAYPOINT PROTOCOL",
      "httpbin-648cd984f8-2q9bn  ambient-demo 10.240.1.5  amb1-worker  waypoint HBONE",
      "sleep-7656cf8794-lxcmx    ambient-demo 10.244.2.58 amb1-worker2 None     HBONE",
      "waypoint-5cdd6745d5-rc2gg ambient-demo 10.240.1.9  amb1-worker  None     TCP",
      "early-1                   late         10.240.3.3  node-a       None     HBONE",
      "",
    ].join("\n"),
  );
});

Deno.test("proxy-config services: VIPs without network, healthy/total endpoints", () => {
  assert.equal(
    formatServices(sampleDump()),
    [
      "NAMESPACE    SERVICE NAME SERVICE VIP WAYPOINT ENDPOINTS",
      "ambient-demo httpbin      10.96.0.20  waypoint 0/1",
      "ambient-demo sleep        10.96.0.30  None     1/1",
      "ambient-demo waypoint     10.96.0.40  None     1/1",
      "",
    ].join("\n"),
  );
});

Deno.test("proxy-config policies", () => {
  assert.equal(
    formatPolicies(sampleDump()),
    [
      "NAMESPACE    POLICY NAME ACTION SCOPE",
      "ambient-demo allow-sleep Allow  WorkloadSelector",
      "kube-system  deny-all    Deny   Namespace",
      "",
    ].join("\n"),
  );
});

Deno.test("proxy-config secrets: CA and Cert Chain rows from real certificates, hex serials, validity", async () => {
  const pki = await makeTestPki();
  try {
    const cert = await pki.issue("ambient-demo", "httpbin");
    const entry = {
      identity: "spiffe://cluster.local/ns/ambient-demo/sa/httpbin",
      state: "Available",
      certChain: cert.certChainPem.map(certDump),
      rootCerts: cert.rootsPem.map(certDump),
    };
    const dump = sampleDump([
      entry,
      {
        identity: "spiffe://cluster.local/ns/ambient-demo/sa/sleep",
        state: "Initializing",
        certChain: [],
        rootCerts: [],
      },
      {
        identity: "spiffe://cluster.local/ns/x/sa/y",
        state: "Unavailable: CA unreachable",
        certChain: [],
        rootCerts: [],
      },
    ]);
    const lines = formatSecrets(dump).trimEnd().split("\n");
    const cols = (l: string) => l.split(/ {5,}/);
    assert.deepEqual(cols(lines[0]), [
      "NAME",
      "TYPE",
      "STATUS",
      "VALID CERT",
      "SERIAL NUMBER",
      "NOT AFTER",
      "NOT BEFORE",
    ]);
    const nRoots = entry.rootCerts.length;
    const nChain = entry.certChain.length;
    assert.ok(nRoots >= 1 && nChain >= 1);
    const root = cols(lines[1]);
    const leaf = cols(lines[1 + nRoots]);
    assert.deepEqual(lines.slice(1, 1 + nRoots).map((l) => cols(l)[1]), Array(nRoots).fill("CA"));
    assert.deepEqual(
      lines.slice(1 + nRoots, 1 + nRoots + nChain).map((l) => cols(l)[1]),
      Array(nChain).fill("Cert Chain"),
    );
    assert.deepEqual(root.slice(0, 4), [entry.identity, "CA", "Available", "true"]);
    assert.deepEqual(leaf.slice(0, 4), [entry.identity, "Cert Chain", "Available", "true"]);
    // istioctl prints the serial as a big integer in hex: no leading zero nibble (0x0c… → c…).
    assert.equal(leaf[4], cert.serialNumber.replace(/^0+/, ""));
    assert.equal(leaf[5], entry.certChain[0].expirationTime);
    assert.equal(leaf[6], entry.certChain[0].validFrom);
    assert.equal(root[4], serialToHex(entry.rootCerts[0].serialNumber));
    assert.deepEqual(cols(lines[1 + nRoots + nChain]), [
      "spiffe://cluster.local/ns/ambient-demo/sa/sleep",
      "NA",
      "Initializing",
      "false",
      "NA",
      "NA",
      "NA",
    ]);
    assert.equal(cols(lines[2 + nRoots + nChain])[2], "Unavailable");
    assert.equal(lines.length, 3 + nRoots + nChain);
    // columns line up: every row has TYPE at the same offset
    const at = lines[0].indexOf("TYPE");
    assert.ok(lines.every((l) => l[at - 1] === " " && l[at] !== " "));
    // after expiry the leaf is not valid
    const later = formatSecrets(dump, cert.notAfter.getTime() + 1000).split("\n")[1 + nRoots];
    assert.equal(cols(later)[3], "false");
  } finally {
    await pki.cleanup();
  }
});

Deno.test("serialToHex: ztunnel's decimal serial as istioctl's hex", () => {
  assert.equal(serialToHex("255"), "ff");
  assert.equal(serialToHex("4096"), "1000");
  const big = "ed73437fb2a7f5b3d7b5f28b9a1c29c6";
  assert.equal(serialToHex(BigInt("0x" + big).toString(10)), big);
  assert.equal(serialToHex("AB:CD:01"), "abcd01");
});

Deno.test("formatAll joins every table with blank lines; a real ztunnel-shaped dump works too", () => {
  const all = formatAll(sampleDump());
  assert.equal(all.split("\n\n").length, 4);
  assert.ok(all.startsWith("NAME "));
  // a config_dump as ztunnel serves it: address waypoints, no zt labels
  const ztunnel = {
    workloads: [{
      workloadIps: ["10.244.1.37"],
      waypoint: { destination: "/10.96.65.117", hboneMtlsPort: 15008 },
      protocol: "HBONE",
      name: "reviews-v1-5b5d6494f4-qwjv4",
      namespace: "bookinfo",
      node: "ambient-worker",
      status: "Healthy",
    }],
    services: [{
      name: "namespace-istio-waypoint",
      namespace: "bookinfo",
      hostname: "namespace-istio-waypoint.bookinfo.svc.cluster.local",
      vips: ["/10.96.65.117"],
      endpoints: {},
    }],
    policies: [],
    certificates: [],
  };
  assert.ok(
    formatWorkloads(ztunnel).includes(
      "reviews-v1-5b5d6494f4-qwjv4 bookinfo  10.244.1.37 ambient-worker namespace-istio-waypoint HBONE\n",
    ),
  );
  assert.ok(
    formatServices(ztunnel).includes("bookinfo  namespace-istio-waypoint 10.96.65.117 None     0/0\n"),
  );
});

Deno.test("-o json and -o yaml round-trip the dump", () => {
  const dump = sampleDump();
  assert.deepEqual(JSON.parse(toJson(dump)), dump);
  assert.ok(toJson(dump).endsWith("\n"));
  assert.deepEqual(parseYaml(toYaml(dump)), dump);
});
