/** Test helpers: a TCP pair over loopback with OpenSslSocket on both ends, and byte helpers. */
import type { WorkloadCertificate } from "../../../lib/identity/certificate.ts";
import { TlsContext } from "../../../lib/tunnel/openssl/openssl_context.ts";
import { OpenSslSocket, type OpenSslSocketOptions } from "../../../lib/tunnel/openssl/openssl_socket.ts";

/** Accepts one TCP connection and dials it: [client side, server side]. */
export async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [server, client] = await Promise.all([
      listener.accept() as Promise<Deno.TcpConn>,
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    ]);
    return [client, server];
  } finally {
    listener.close();
  }
}

export interface TlsPair {
  client: OpenSslSocket;
  server: OpenSslSocket;
  close(): void;
}

/** Handshakes an OpenSslSocket client (with clientCert) and server (with serverCert). */
export async function tlsPair(
  clientCert: WorkloadCertificate,
  serverCert: WorkloadCertificate,
  serverOpts: OpenSslSocketOptions = {},
): Promise<TlsPair> {
  const cctx = TlsContext.create(clientCert, "client");
  const sctx = TlsContext.create(serverCert, "server");
  try {
    const [c, s] = await tcpPair();
    const [client, server] = await Promise.all([
      OpenSslSocket.connect(c, cctx, "client", 5000),
      OpenSslSocket.connect(s, sctx, "server", 5000, serverOpts),
    ]);
    return {
      client,
      server,
      close: () => {
        client.destroy();
        server.destroy();
      },
    };
  } finally {
    cctx.close();
    sctx.close();
  }
}

/** Deterministic non-trivial bytes. */
export function pattern(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 13)) & 255;
  return b;
}

/** Collects an H2Socket-like emitter's data until "close"; resolves with all bytes. */
export function collect(
  sock: { on(e: "data", f: (c: Uint8Array) => void): unknown; on(e: "close", f: () => void): unknown },
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  return new Promise((resolve) => {
    sock.on("data", (c) => {
      parts.push(c);
      total += c.length;
    });
    sock.on("close", () => {
      const out = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      resolve(out);
    });
  });
}

/** Writes `data` in `chunk`-sized pieces honouring write() === false / "drain", then end(). */
export async function writeAll(sock: OpenSslSocket, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
  let drain: (() => void) | undefined;
  sock.on("drain", () => drain?.());
  for (let o = 0; o < data.length; o += chunk) {
    if (!sock.write(data.subarray(o, Math.min(o + chunk, data.length)))) {
      await new Promise<void>((r) => (drain = r));
    }
  }
  sock.end();
}
