/**
 * zt's HTTP/2 server layer (H2Session, server role) over plain TCP, for h2spec, which cannot present a
 * client certificate. Streams are answered as zt's HBONE server answers them: CONNECT with an
 * authority → 200 and the stream echoes what it receives; anything else → 400 with END_STREAM (and a
 * NO_ERROR reset when the request is still open), as the inbound proxy does.
 *
 *   deno run -A tests/peers/h2spec_server.ts [port] [host]   → prints "listening <host>:<port>"
 */
import net from "node:net";
import { DEFAULT_H2_OPTIONS, H2Session } from "../../lib/tunnel/h2/session.ts";
import type { H2Stream } from "../../lib/tunnel/h2/stream.ts";
import { echoStream } from "../fakes/h2_streams.ts";

/** Answers one stream the way HboneServer + InboundProxy do. */
export function answer(session: H2Session, stream: H2Stream): void {
  const h = new Map(stream.requestHeaders);
  const status = h.get(":method") === "CONNECT" && h.get(":authority") ? 200 : 400;
  session.respond(stream, [[":status", String(status)]], status !== 200);
  if (status !== 200) {
    if (!stream.remoteEnded) stream.reset(0);
    return;
  }
  echoStream(stream).catch(() => {});
}

/** Serves until the returned server is closed; every session uses zt's default H2 options. */
export function serveH2(port: number, host: string): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    const session = new H2Session(sock, "server", DEFAULT_H2_OPTIONS);
    session.onStream = (stream) => answer(session, stream);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 0);
  const host = Deno.args[1] ?? "127.0.0.1";
  const server = await serveH2(port, host);
  const a = server.address() as net.AddressInfo;
  console.log(`listening ${a.address}:${a.port}`);
}
