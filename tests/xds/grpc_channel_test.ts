import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { ZtError } from "../../lib/error.ts";
import { authHeaders, authSourceFromEnv, DEFAULT_TOKEN_PATH } from "../../lib/xds/auth_source.ts";
import {
  GrpcChannel,
  type GrpcChannelOptions,
  parseControlPlaneAddress,
  parsePrefixedHeaders,
  parseRootCa,
} from "../../lib/xds/grpc_channel.ts";
import {
  certificateRequestCodec,
  certificateResponseCodec,
  CREATE_CERTIFICATE_METHOD,
  type IstioCertificateResponse,
} from "../../lib/xds/proto.ts";
import { FakeIstiod } from "../fakes/fake_istiod.ts";
import { makeControlPlaneCa } from "../fakes/grpc_tls.ts";

Deno.test("control plane addresses: https default, ports, IPv6, bad schemes", () => {
  assert.deepEqual(parseControlPlaneAddress("istiod.istio-system.svc:15012"), {
    host: "istiod.istio-system.svc",
    port: 15012,
    target: "istiod.istio-system.svc:15012",
  });
  assert.deepEqual(parseControlPlaneAddress("https://10.0.0.1:15012"), {
    host: "10.0.0.1",
    port: 15012,
    target: "10.0.0.1:15012",
  });
  assert.deepEqual(parseControlPlaneAddress("https://[fd00::1]:15012"), {
    host: "fd00::1",
    port: 15012,
    target: "[fd00::1]:15012",
  });
  assert.equal(parseControlPlaneAddress("https://istiod").port, 443);
  for (const bad of ["http://istiod:15012", "https://", "unix:///sock"]) {
    assert.throws(
      () => parseControlPlaneAddress(bad),
      (e: unknown) => e instanceof ZtError && e.kind === "config",
    );
  }
});

Deno.test("root CA values: SYSTEM, inline PEM, file path", () => {
  assert.deepEqual(parseRootCa("SYSTEM"), { kind: "system" });
  const pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  assert.deepEqual(parseRootCa(pem), { kind: "pem", pem });
  assert.deepEqual(parseRootCa("./var/run/secrets/istio/root-cert.pem"), {
    kind: "file",
    path: "./var/run/secrets/istio/root-cert.pem",
  });
  assert.throws(
    () =>
      new GrpcChannel({
        address: "x:1",
        rootCa: { kind: "file", path: "/nonexistent/ca.pem" },
        auth: { kind: "none" },
      }),
    (e: unknown) => e instanceof ZtError && e.kind === "config" && /nonexistent/.test(e.message),
  );
});

Deno.test("XDS_HEADER_* / CA_HEADER_* become lowercase header names", () => {
  const env = {
    XDS_HEADER_Foo: "bar",
    XDS_HEADER_x_tenant: "t1",
    CA_HEADER_a: "b",
    XDS_HEADER_: "skip",
    OTHER: "x",
  };
  assert.deepEqual([...parsePrefixedHeaders(env, "XDS_HEADER_")], [["foo", "bar"], ["x_tenant", "t1"]]);
  assert.deepEqual([...parsePrefixedHeaders(env, "CA_HEADER_")], [["a", "b"]]);
});

Deno.test("AUTH_TOKEN: file if it exists, else literal; unset uses the default file or nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/token`;
    await Deno.writeTextFile(path, "jwt-1\n");
    const src = authSourceFromEnv(path, "c1");
    assert.deepEqual(src, { kind: "file", path, clusterId: "c1" });
    assert.deepEqual(authHeaders(src), { authorization: "Bearer jwt-1", clusterid: "c1" });
    await Deno.writeTextFile(path, "jwt-2");
    assert.deepEqual(
      authHeaders(src),
      { authorization: "Bearer jwt-2", clusterid: "c1" },
      "re-read per call",
    );
    await Deno.writeTextFile(path, "");
    assert.throws(() => authHeaders(src), (e: unknown) => e instanceof ZtError && e.kind === "auth");
    await Deno.remove(path);
    assert.throws(
      () => authHeaders(src),
      (e: unknown) => e instanceof ZtError && /cannot read token/.test(e.message),
    );

    assert.deepEqual(authSourceFromEnv("literal.jwt.value", "c1"), {
      kind: "static",
      token: "literal.jwt.value",
      clusterId: "c1",
    });
    assert.deepEqual(authHeaders({ kind: "static", token: "t", clusterId: "" }), {
      authorization: "Bearer t",
    });
    assert.deepEqual(authSourceFromEnv(undefined, "c1", () => false), { kind: "none" });
    assert.deepEqual(authSourceFromEnv(undefined, "c1", (p) => p === DEFAULT_TOKEN_PATH), {
      kind: "file",
      path: DEFAULT_TOKEN_PATH,
      clusterId: "c1",
    });
    assert.deepEqual(authHeaders({ kind: "none" }), {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function call(ch: GrpcChannel): Promise<IstioCertificateResponse> {
  return ch.unary(
    CREATE_CERTIFICATE_METHOD,
    (m) => certificateRequestCodec.encode(m),
    (b) => certificateResponseCodec.decode(b),
    { csr: "CSR", validityDuration: 60 },
    { timeoutMs: 5000 },
  );
}

function channel(f: FakeIstiod, over: Partial<GrpcChannelOptions> = {}): GrpcChannel {
  return new GrpcChannel({
    address: f.address,
    rootCa: { kind: "pem", pem: f.caPem },
    auth: { kind: "static", token: "t", clusterId: "c1" },
    ...over,
  });
}

Deno.test("calls carry a freshly read token, clusterid and extra headers", async () => {
  const f = await FakeIstiod.start({ caHandler: () => Promise.resolve(["leaf", "root"]) });
  const dir = await Deno.makeTempDir();
  const ch = channel(f, {
    auth: { kind: "file", path: `${dir}/token`, clusterId: "cluster-7" },
    headers: new Map([["x-tenant", "blue"]]),
  });
  try {
    await Deno.writeTextFile(`${dir}/token`, "first");
    assert.deepEqual((await call(ch)).certChain, ["leaf", "root"]);
    await Deno.writeTextFile(`${dir}/token`, "second");
    await call(ch);
    assert.deepEqual(f.caRequests.map((r) => r.headers.authorization), ["Bearer first", "Bearer second"]);
    for (const r of f.caRequests) {
      assert.equal(r.headers.clusterid, "cluster-7");
      assert.equal(r.headers["x-tenant"], "blue");
    }
    assert.equal(f.caRequests[0].request.csr, "CSR");
    assert.equal(f.caRequests[0].request.validityDuration, 60);
  } finally {
    ch.close();
    await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server signed by another CA is refused; SYSTEM roots do not trust a private CA", async () => {
  const f = await FakeIstiod.start({ caHandler: () => Promise.resolve(["x"]) });
  const other = await makeControlPlaneCa("other");
  for (const rootCa of [{ kind: "pem", pem: other.caPem } as const, { kind: "system" } as const]) {
    const ch = channel(f, { rootCa });
    try {
      await assert.rejects(call(ch), (e: { code?: number }) => e.code === status.UNAVAILABLE);
    } finally {
      ch.close();
    }
  }
  assert.equal(f.caRequests.length, 0);
  await f.close();
});

Deno.test("the certificate must name the host, or else the alternate hostname", async () => {
  const ca = await makeControlPlaneCa();
  const server = await ca.issueServer({ dns: ["istiod.istio-system.svc"] }); // no IP SAN
  const f = await FakeIstiod.start({
    tls: { ...server, caPem: ca.caPem },
    caHandler: () => Promise.resolve(["ok"]),
  });
  const plain = channel(f);
  const alt = channel(f, { altHostname: "istiod.istio-system.svc" });
  const wrongAlt = channel(f, { altHostname: "other.example.com" });
  try {
    await assert.rejects(call(plain), (e: { code?: number }) => e.code === status.UNAVAILABLE);
    await assert.rejects(call(wrongAlt), (e: { code?: number }) => e.code === status.UNAVAILABLE);
    assert.deepEqual((await call(alt)).certChain, ["ok"]);
    assert.equal(f.caRequests.length, 1);
  } finally {
    for (const c of [plain, alt, wrongAlt]) c.close();
    await f.close();
  }
});

Deno.test("a DNS host is verified against the certificate's DNS names", async () => {
  const f = await FakeIstiod.start({ caHandler: () => Promise.resolve(["ok"]) }); // SANs: localhost, 127.0.0.1
  const byName = channel(f, { address: `https://localhost:${f.port}` });
  const ca = await makeControlPlaneCa();
  const server = await ca.issueServer({ dns: ["istiod.istio-system.svc"], ips: ["127.0.0.1"] });
  const g = await FakeIstiod.start({
    tls: { ...server, caPem: ca.caPem },
    caHandler: () => Promise.resolve(["ok"]),
  });
  const notNamed = channel(g, { address: `https://localhost:${g.port}` });
  try {
    assert.deepEqual((await call(byName)).certChain, ["ok"]);
    // The certificate has the IP but not the name "localhost": refused.
    await assert.rejects(call(notNamed), (e: { code?: number }) => e.code === status.UNAVAILABLE);
    assert.equal(g.caRequests.length, 0);
  } finally {
    byName.close();
    notNamed.close();
    await f.close();
    await g.close();
  }
});

Deno.test("a token file that cannot be read fails the call before it is sent", async () => {
  const f = await FakeIstiod.start({ caHandler: () => Promise.resolve(["x"]) });
  const ch = channel(f, { auth: { kind: "file", path: "/nonexistent/token", clusterId: "c" } });
  try {
    await assert.rejects(call(ch), (e: unknown) => e instanceof ZtError && e.kind === "auth");
    assert.equal(f.caRequests.length, 0);
  } finally {
    ch.close();
    await f.close();
  }
});
