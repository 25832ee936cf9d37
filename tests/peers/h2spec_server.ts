/**
 * zt's HTTP/2 server layer (H2Session, server role, zt's default H2 options) over plain TCP, for
 * h2spec, which cannot present a client certificate. Two ways of answering:
 * - `hbone` (default): as zt's HBONE server + inbound proxy answer. CONNECT with an authority → 200
 *   and the stream echoes what it receives; anything else → 400 with END_STREAM, and a NO_ERROR reset
 *   when the request is still open.
 * - `body`: every request → 200 with a short body once the request has ended, as a plain HTTP server
 *   would; this lets h2spec's tests of the sending side (flow control, half-closed streams) run on
 *   the same session code.
 *
 *   deno run -A tests/peers/h2spec_server.ts [port] [host] [hbone|body]   → "listening <host>:<port>"
 */
import net from "node:net";
import { DEFAULT_H2_OPTIONS, H2Session } from "../../lib/tunnel/h2/session.ts";
import type { H2Stream } from "../../lib/tunnel/h2/stream.ts";
import { echoStream } from "../fakes/h2_streams.ts";

export type AnswerMode = "hbone" | "body";

const BODY = new TextEncoder().encode("zt h2spec harness\n".repeat(4));

/** Answers one stream the way HboneServer + InboundProxy do. */
export function answerHbone(session: H2Session, stream: H2Stream): void {
  const h = new Map(stream.requestHeaders);
  const status = h.get(":method") === "CONNECT" && h.get(":authority") ? 200 : 400;
  session.respond(stream, [[":status", String(status)]], status !== 200);
  if (status !== 200) {
    if (!stream.remoteEnded) stream.reset(0);
    return;
  }
  echoStream(stream).catch(() => {});
}

/** Reads the request to its end, then answers 200 with BODY. */
async function answerBody(session: H2Session, stream: H2Stream): Promise<void> {
  for (let c = await stream.read(); c !== null; c = await stream.read()) stream.release(c.length);
  session.respond(stream, [[":status", "200"], ["content-type", "text/plain"]], false);
  await stream.writeBytes(BODY);
  stream.end();
}

/** Serves until the returned server is closed. */
export function serveH2(port: number, host: string, mode: AnswerMode = "hbone"): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    const session = new H2Session(sock, "server", DEFAULT_H2_OPTIONS);
    session.onStream = (stream) => {
      if (mode === "hbone") answerHbone(session, stream);
      else answerBody(session, stream).catch(() => {});
    };
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 0);
  const host = Deno.args[1] ?? "127.0.0.1";
  const mode = (Deno.args[2] ?? "hbone") as AnswerMode;
  const server = await serveH2(port, host, mode);
  const a = server.address() as net.AddressInfo;
  console.log(`listening ${a.address}:${a.port} (${mode})`);
}
