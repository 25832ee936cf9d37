/**
 * Test PKI for the stunnel baseline, made with the openssl CLI: an ECDSA P-256 CA and two ECDSA
 * P-256 leaves with SPIFFE URI SANs (spiffe://cluster.local/ns/bench/sa/{client,server}), usable
 * for both client and server auth.
 */
import { run } from "./process.ts";

export interface BenchPki {
  ca: string;
  client: { cert: string; key: string };
  server: { cert: string; key: string };
}

async function leaf(dir: string, name: string, caCert: string, caKey: string) {
  const key = `${dir}/${name}.key`, csr = `${dir}/${name}.csr`, cert = `${dir}/${name}.crt`;
  const ext = `${dir}/${name}.ext`;
  await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
  await run("openssl", ["req", "-new", "-key", key, "-subj", `/O=zt-bench/CN=${name}`, "-out", csr]);
  Deno.writeTextFileSync(
    ext,
    [
      `subjectAltName = critical, URI:spiffe://cluster.local/ns/bench/sa/${name}`,
      "keyUsage = critical, digitalSignature, keyEncipherment",
      "extendedKeyUsage = serverAuth, clientAuth",
      "basicConstraints = critical, CA:FALSE",
    ].join("\n") + "\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    caCert,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-days",
    "2",
    "-sha256",
    "-extfile",
    ext,
    "-out",
    cert,
  ]);
  return { cert, key };
}

export async function makePki(dir: string): Promise<BenchPki> {
  Deno.mkdirSync(dir, { recursive: true });
  const caKey = `${dir}/ca.key`, ca = `${dir}/ca.crt`;
  await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", caKey]);
  await run("openssl", [
    "req",
    "-x509",
    "-new",
    "-key",
    caKey,
    "-sha256",
    "-days",
    "2",
    "-subj",
    "/O=zt-bench/CN=zt-bench-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    ca,
  ]);
  return {
    ca,
    client: await leaf(dir, "client", ca, caKey),
    server: await leaf(dir, "server", ca, caKey),
  };
}
