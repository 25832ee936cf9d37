/**
 * The DNS answer rules (inpod-dns-facts §6.3) as a table, on the mesh of ztunnel's own DNS tests:
 * a client in ns1 on network nw1. Each row is a question and what zt answers (or that it forwards).
 */
import assert from "node:assert/strict";
import { aliases, type Answer, answerQuestion, kubeExpansions, wildcards } from "../../lib/dns/answer.ts";
import { RType } from "../../lib/dns/dns_types.ts";
import { ProxyState } from "../../lib/state/proxy_state.ts";
import type { Service } from "../../lib/state/types.ts";
import { service, workload } from "../state/fixtures.ts";

const NW1 = "nw1";
const NW2 = "nw2";

function svc(name: string, ns: string, vips: string[], extra: Partial<Service> = {}): Service {
  return service({
    name,
    namespace: ns,
    vips: vips.map((v) => (v.includes("/") ? v : `${NW1}/${v}`)),
    canonical: false,
    ...extra,
  });
}
const external = (hostname: string, ns: string, vips: string[], extra: Partial<Service> = {}) =>
  svc(hostname, ns, vips, { hostname, ...extra });

function mesh(): ProxyState {
  const s = new ProxyState();
  for (
    const x of [
      external("www.google.com", "ns1", ["1.1.1.1"]),
      svc("productpage", "ns1", ["9.9.9.9"]),
      svc("example", "ns2", ["10.10.10.10"]),
      svc("nslocal", "ns2", ["10.10.10.240"], { visibility: "Namespace" }),
      svc("nslocalsame", "ns1", ["10.10.10.241"], { visibility: "Namespace" }),
      external("everywhere.io", "ns2", ["10.10.10.110"]),
      external("everywhere.io", "preferred-ns", ["10.10.10.111"]),
      external("everywhere.io", "ns1", ["10.10.10.112"]),
      external("preferred.io", "ns2", ["10.10.10.210"]),
      external("preferred.io", "preferred-ns", ["10.10.10.211"]),
      external("canonical.svc", "ns2", ["10.10.10.140"]),
      external("canonical.svc", "ns3", ["10.10.10.141"], { canonical: true }),
      external("canonical.with.local", "ns1", ["10.10.10.150"]),
      external("canonical.with.local", "ns2", ["10.10.10.151"], { canonical: true }),
      svc("details", "ns2", ["11.11.11.11", "12.12.12.12", "13.13.13.13", "14.14.14.14"], {
        hostname: "details.ns2.svc.cluster.remote",
      }),
      external("ipv4.localhost", "ns1", ["2.2.2.2"]),
      external("ipv6.localhost", "ns1", ["2001:db8::ff00:42:8329"]),
      external("dual.localhost", "ns1", ["2.2.2.2", "2001:db8::ff00:42:8329"]),
      external("*.wildcard", "ns1", ["10.10.10.10"]),
      external("*.b.wildcard", "ns1", ["11.11.11.11"]),
      external("*.svc.mesh.company.net", "ns1", ["10.1.2.3"]),
      svc("nw2-only", "ns1", [`${NW2}/20.20.20.20`]),
      svc("both-networks", "ns1", ["21.21.21.21", `${NW2}/22.22.22.22`]),
      svc("headless", "ns1", []),
      external("headless.example.com", "ns1", []),
      external("headless-no-endpoints.example.com", "ns1", []),
      svc("headless-ipv6", "ns1", [], { ipFamilies: "IPv6Only" }),
      svc("v4only", "ns1", ["7.7.7.7"], { ipFamilies: "IPv4Only" }),
    ]
  ) s.upsertService(x);
  const ep = (name: string, host: string, svcKey: string, ips: string[]) =>
    s.upsertWorkload(
      workload({
        name,
        namespace: "ns1",
        network: NW1,
        hostname: host,
        workloadIps: ips,
        services: { [svcKey]: { 80: 80 } },
        status: "Unhealthy",
      }),
    );
  ep("headless0", "headless.pod0.ns1.svc.cluster.local", "ns1/headless.ns1.svc.cluster.local", [
    "30.30.30.30",
    "2001:db8::30",
  ]);
  ep("headless1", "headless.pod1.ns1.svc.cluster.local", "ns1/headless.ns1.svc.cluster.local", [
    "31.31.31.31",
    "2001:db8::31",
  ]);
  ep("headless-external", "", "ns1/headless.example.com", ["32.32.32.32"]);
  ep("headless2", "", "ns1/headless-ipv6.ns1.svc.cluster.local", ["33.33.33.33", "2001:db8::33"]);
  return s;
}

const client = workload({ name: "client", namespace: "ns1", network: NW1, workloadIps: ["10.0.0.1"] });
const OPTS = { clusterDomain: "cluster.local", ipv6Enabled: true, preferredNamespace: "preferred-ns" };

type Expect =
  | "forward"
  | { addresses: string[]; name?: string; cname?: string; result?: string };

const A = RType.A;
const AAAA = RType.AAAA;
const CASES: [string, string, number, Expect][] = [
  ["other record types are forwarded", "productpage.ns1.", RType.NS, "forward"],
  ["a ServiceEntry host", "www.google.com", A, { addresses: ["1.1.1.1"] }],
  [
    "search-suffixed ServiceEntry host: CNAME to the stripped name",
    "www.google.com.ns1.svc.cluster.local.",
    A,
    {
      addresses: ["1.1.1.1"],
      name: "www.google.com",
      cname: "www.google.com.ns1.svc.cluster.local",
    },
  ],
  ["unknown names are forwarded", "www.bing.com", A, "forward"],
  ["k8s FQDN", "productpage.ns1.svc.cluster.local.", A, { addresses: ["9.9.9.9"] }],
  ["name.namespace", "productpage.ns1.", A, { addresses: ["9.9.9.9"], name: "productpage.ns1" }],
  ["short name in the pod's namespace", "productpage.", A, { addresses: ["9.9.9.9"], name: "productpage" }],
  ["name.namespace + search domain: CNAME", "productpage.ns1.ns1.svc.cluster.local.", A, {
    addresses: ["9.9.9.9"],
    name: "productpage.ns1",
    cname: "productpage.ns1.ns1.svc.cluster.local",
  }],
  ["AAAA of an IPv4 service: NODATA, no CNAME", "productpage.ns1.ns1.svc.cluster.local.", AAAA, {
    addresses: [],
    name: "productpage.ns1",
    result: "no records",
  }],
  ["another namespace, name.namespace", "example.ns2.", A, { addresses: ["10.10.10.10"] }],
  ["another namespace, FQDN", "example.ns2.svc.cluster.local.", A, { addresses: ["10.10.10.10"] }],
  ["another namespace, name.namespace.svc", "example.ns2.svc.", A, { addresses: ["10.10.10.10"] }],
  [
    "namespace-visible service of another namespace: forwarded",
    "nslocal.ns2.svc.cluster.local.",
    A,
    "forward",
  ],
  ["namespace-visible service of the pod's namespace", "nslocalsame.ns1.svc.cluster.local.", A, {
    addresses: ["10.10.10.241"],
  }],
  ["a short name is relative to the pod's namespace only", "example.", A, "forward"],
  ["other cluster domain, FQDN", "details.ns2.svc.cluster.remote.", A, {
    addresses: ["11.11.11.11", "12.12.12.12", "13.13.13.13", "14.14.14.14"],
  }],
  ["other cluster domain, name.namespace: forwarded", "details.ns2.", A, "forward"],
  ["dual stack, A", "dual.localhost.", A, { addresses: ["2.2.2.2"] }],
  ["dual stack, AAAA", "dual.localhost.", AAAA, { addresses: ["2001:db8::ff00:42:8329"] }],
  ["IPv6-only host, A: NODATA", "ipv6.localhost.", A, { addresses: [], result: "no records" }],
  ["IPv4-only host, AAAA: NODATA", "ipv4.localhost.", AAAA, { addresses: [], result: "no records" }],
  ["wildcard", "foo.wildcard.", A, { addresses: ["10.10.10.10"] }],
  ["the most specific wildcard wins", "a.b.wildcard.", A, { addresses: ["11.11.11.11"] }],
  ["wildcard with a domain", "foo.svc.mesh.company.net.", A, { addresses: ["10.1.2.3"] }],
  ["wildcard, deeper name", "foo.foons.svc.mesh.company.net.", A, { addresses: ["10.1.2.3"] }],
  [
    "wildcard + search domain: the requested name, no CNAME",
    "foo.svc.mesh.company.net.ns1.svc.cluster.local.",
    A,
    {
      addresses: ["10.1.2.3"],
      name: "foo.svc.mesh.company.net.ns1.svc.cluster.local",
    },
  ],
  ["no VIP on the pod's network: NODATA", "nw2-only.ns1.svc.cluster.local.", A, {
    addresses: [],
    result: "no records",
  }],
  ["only the VIPs of the pod's network", "both-networks.ns1.svc.cluster.local.", A, {
    addresses: ["21.21.21.21"],
  }],
  ["headless: one IP per endpoint, unhealthy ones too (A)", "headless.ns1.svc.cluster.local.", A, {
    addresses: ["30.30.30.30", "31.31.31.31"],
  }],
  ["headless (AAAA)", "headless.ns1.svc.cluster.local.", AAAA, {
    addresses: ["2001:db8::30", "2001:db8::31"],
  }],
  ["headless short name", "headless", A, { addresses: ["30.30.30.30", "31.31.31.31"] }],
  ["IPv6-only headless, AAAA", "headless-ipv6.ns1.svc.cluster.local.", AAAA, { addresses: ["2001:db8::33"] }],
  ["IPv6-only headless, A: refused family", "headless-ipv6.ns1.svc.cluster.local.", A, {
    addresses: [],
    result: "service does not support this record type",
  }],
  ["IPv4-only VIP service, AAAA: refused family", "v4only", AAAA, {
    addresses: [],
    result: "service does not support this record type",
  }],
  ["pod hostnames are not served (ztunnel#1119)", "headless.pod0.ns1.svc.cluster.local.", A, "forward"],
  ["pod hostname short form", "headless.pod0.ns1.", A, "forward"],
  ["a ServiceEntry without addresses is forwarded", "headless-no-endpoints.example.com", A, "forward"],
  ["a ServiceEntry with endpoints but no VIP is forwarded", "headless.example.com", A, "forward"],
  ["the preferred namespace breaks ties", "preferred.io.", A, { addresses: ["10.10.10.211"] }],
  ["the pod's own namespace wins", "everywhere.io.", A, { addresses: ["10.10.10.112"] }],
  ["a canonical service is preferred", "canonical.svc", A, { addresses: ["10.10.10.141"] }],
  ["own namespace beats canonical", "canonical.with.local", A, { addresses: ["10.10.10.150"] }],
  ["names compare case-insensitively, the answer keeps the case asked", "ProductPage.NS1.", A, {
    addresses: ["9.9.9.9"],
    name: "ProductPage.NS1",
  }],
  ["the root is forwarded", "", A, "forward"],
  ["names with escapes are never mesh names", "product\\.page", A, "forward"],
];

for (const [what, name, type, expect] of CASES) {
  Deno.test(`answer: ${what} (${name || "."} ${type === A ? "A" : type === AAAA ? "AAAA" : type})`, () => {
    const got: Answer = answerQuestion(mesh(), client, { name: name.replace(/\.$/, ""), type }, OPTS);
    if (expect === "forward") {
      assert.equal(got.kind, "forward");
      return;
    }
    assert.equal(got.kind, "local");
    if (got.kind !== "local") return;
    assert.deepEqual([...got.addresses].sort(), [...expect.addresses].sort());
    assert.equal(got.result, expect.result ?? "success");
    assert.equal(got.recordName, expect.name ?? name.replace(/\.$/, ""));
    assert.deepEqual(got.cname, expect.cname ? { from: expect.cname, to: expect.name } : undefined);
  });
}

Deno.test("answer: IPV6_ENABLED=false refuses AAAA for mesh names (empty, authoritative)", () => {
  const got = answerQuestion(mesh(), client, { name: "dual.localhost", type: AAAA }, {
    ...OPTS,
    ipv6Enabled: false,
  });
  assert.deepEqual(got.kind === "local" && [got.result, got.addresses], [
    "service does not support this record type",
    [],
  ]);
});

Deno.test("answer: a custom cluster domain moves the expansions and search domains", () => {
  const s = new ProxyState();
  s.upsertService(svc("web", "ns1", ["10.9.9.9"], { hostname: "web.ns1.svc.corp.internal" }));
  const o = { ...OPTS, clusterDomain: "corp.internal" };
  const got = answerQuestion(s, client, { name: "web", type: A }, o);
  assert.deepEqual(got.kind === "local" && got.addresses, ["10.9.9.9"]);
  assert.equal(answerQuestion(s, client, { name: "web", type: A }, OPTS).kind, "forward");
});

Deno.test("answer: expansions, search-domain aliases and wildcards in ztunnel's order", () => {
  assert.deepEqual(kubeExpansions(["name"], "ns1", "cluster.local").map((l) => l.join(".")), [
    "name.ns1.svc.cluster.local",
  ]);
  assert.deepEqual(kubeExpansions(["name", "ns2"], "ns1", "cluster.local").map((l) => l.join(".")), [
    "name.ns2.svc.cluster.local",
    "name.ns2.ns1.svc.cluster.local",
  ]);
  assert.deepEqual(kubeExpansions(["name", "ns2", "svc"], "ns1", "cluster.local").map((l) => l.join(".")), [
    "name.ns2.svc.cluster.local",
    "name.ns2.svc.svc.cluster.local",
  ]);
  assert.deepEqual(
    kubeExpansions(["name", "ns2", "not-svc"], "ns1", "cluster.local").map((l) => l.join(".")),
    [
      "name.ns2.not-svc.svc.cluster.local",
    ],
  );
  assert.deepEqual(
    kubeExpansions(["pod", "sub", "ns", "svc"], "ns1", "cluster.local").map((l) => l.join(".")),
    [
      "pod.sub.ns.svc.cluster.local",
    ],
  );
  assert.deepEqual(kubeExpansions(["pod", "sub", "ns", "not-svc"], "ns1", "cluster.local"), []);
  assert.deepEqual(kubeExpansions("name.ns2.svc.cluster".split("."), "ns1", "cluster.local"), []);
  assert.deepEqual(
    kubeExpansions("www.google.com".split("."), "ns1", "cluster.local").map((l) => l.join(".")),
    [
      "www.google.com.svc.cluster.local",
    ],
  );
  assert.deepEqual(wildcards("svc1.ns1.svc.cluster.local".split(".")), [
    "svc1.ns1.svc.cluster.local",
    "*.ns1.svc.cluster.local",
    "*.svc.cluster.local",
    "*.cluster.local",
    "*.local",
  ]);
  assert.deepEqual(wildcards(["svc1"]), ["svc1"]);
  assert.deepEqual(
    aliases("a.ns1.svc.cluster.local".split("."), "ns1", "cluster.local").map((
      a,
    ) => [a.labels.join("."), a.stripped?.join(".")]),
    [
      ["a.ns1.svc.cluster.local", undefined],
      ["a", "a"],
      ["a.ns1", "a.ns1"],
      ["a.ns1.ns1.svc.cluster.local", "a.ns1"],
      ["a.ns1.svc", "a.ns1.svc"],
      ["a.ns1.svc.svc.cluster.local", "a.ns1.svc"],
    ],
  );
});
