/**
 * 1 GiB through one HBONE-style H2 stream (H2Session on both ends) over TLS, in two processes:
 * OpenSslSocket (OpenSSL via FFI) vs node:tls. Prints MB/s and each process's CPU-s/GB.
 *   deno run -A bench/openssl_tls_bench.ts [openssl|node] [MiB]
 */
import process from "node:process";
import tls from "node:tls";
import { makeTestPki } from "../tests/fakes/test_pki.ts";
import type { WorkloadCertificate } from "../lib/identity/certificate.ts";
import { tlsOptions } from "../lib/tunnel/tls.ts";
import { DEFAULT_H2_OPTIONS, H2Session, type H2Socket } from "../lib/tunnel/h2/session.ts";
import { TlsContext } from "../lib/tunnel/openssl/openssl_context.ts";
import { OpenSslSocket } from "../lib/tunnel/openssl/openssl_socket.ts";

const [mode = "openssl", mib = "1024", role = "main", port = "0"] = Deno.args;
const TOTAL = Number(mib) * 1024 * 1024;

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function serve(cert: WorkloadCertificate): Promise<void> {
  const onSocket = (sock: H2Socket) => {
    const session = new H2Session(sock, "server", DEFAULT_H2_OPTIONS);
    session.onStream = async (stream) => {
      session.respond(stream, [[":status", "200"]], false);
      const cpu0 = cpuSeconds();
      let got = 0;
      for (;;) {
        const c = await stream.read();
        if (c === null) break;
        got += c.length;
        stream.release(c.length);
      }
      stream.end();
      console.log(JSON.stringify({ got, serverCpu: cpuSeconds() - cpu0 }));
      setTimeout(() => Deno.exit(0), 50);
    };
  };
  if (mode === "openssl") {
    const ctx = TlsContext.create(cert, "server");
    const l = Deno.listen({ hostname: "127.0.0.1", port: Number(port) });
    console.log("ready");
    const conn = await l.accept() as Deno.TcpConn;
    const sock = await OpenSslSocket.connect(conn, ctx, "server", 5000);
    sock.setNoDelay(true);
    onSocket(sock);
  } else {
    const server = tls.createServer({ ...tlsOptions(cert), requestCert: true }, (s: tls.TLSSocket) => {
      s.setNoDelay(true);
      onSocket(s);
    });
    server.listen(Number(port), "127.0.0.1", () => console.log("ready"));
  }
}

async function dial(cert: WorkloadCertificate, p: number): Promise<H2Socket> {
  if (mode === "openssl") {
    const ctx = TlsContext.create(cert, "client");
    const sock = await OpenSslSocket.connect(
      await Deno.connect({ hostname: "127.0.0.1", port: p }),
      ctx,
      "client",
      5000,
    );
    sock.setNoDelay(true);
    return sock;
  }
  const s = tls.connect({
    ...tlsOptions(cert),
    host: "127.0.0.1",
    port: p,
    servername: "",
    checkServerIdentity: () => undefined,
  });
  await new Promise((r) => s.once("secureConnect", r));
  s.setNoDelay(true);
  return s;
}

if (role === "server") {
  const certs = JSON.parse(await Deno.readTextFile(Deno.env.get("BENCH_CERT")!));
  await serve(certs);
} else {
  const pki = await makeTestPki();
  const certFile = `${pki.dir}/server.json`;
  await Deno.writeTextFile(certFile, JSON.stringify(await pki.issue("demo", "server")));
  const p = 20000 + Math.floor(Math.random() * 20000);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, mode, mib, "server", String(p)],
    env: { BENCH_CERT: certFile },
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("ready")) buf += (await lines.read()).value ?? "";
  const sock = await dial(await pki.issue("demo", "client"), p);
  const session = new H2Session(sock, "client", DEFAULT_H2_OPTIONS);
  const stream = session.request([[":method", "CONNECT"], [":authority", "10.0.0.1:80"]]);
  await stream.response;
  const chunk = new Uint8Array(256 * 1024).fill(42);
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  for (let sent = 0; sent < TOTAL; sent += chunk.length) await stream.writeBytes(chunk);
  stream.end();
  while (!buf.includes("serverCpu")) buf += (await lines.read()).value ?? "";
  const secs = (performance.now() - t0) / 1000;
  const clientCpu = cpuSeconds() - cpu0;
  const server = JSON.parse(buf.slice(buf.indexOf("{")).split("\n")[0]);
  const gb = TOTAL / 1e9;
  console.log(
    `${mode}: ${(TOTAL / 1e6 / secs).toFixed(0)} MB/s, client ${(clientCpu / gb).toFixed(2)} CPU-s/GB, ` +
      `server ${(server.serverCpu / gb).toFixed(2)} CPU-s/GB, total ${
        ((clientCpu + server.serverCpu) / gb).toFixed(2)
      }` +
      ` (received ${server.got === TOTAL ? "all" : server.got})`,
  );
  session.close();
  await child.status;
  await pki.cleanup();
}
