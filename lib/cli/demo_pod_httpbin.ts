/**
 * An httpbin replica inside its pod's network namespace: a listener made there by the socket factory,
 * answering a few of httpbin's endpoints over HTTP/1.1 (one request per connection):
 *   /          httpbin's page title
 *   /ip        {"origin": "<client address as the app sees it>"}   (httpbin's /ip)
 *   /hostname  {"hostname": "<replica>"}                           (go-httpbin's /hostname)
 * Every answer names the replica in `x-served-by`. A request head over 16 KiB is refused with 431.
 */
import type net from "node:net";
import { peerAddress } from "../net/socket_info.ts";
import type { Libc } from "../net/libc.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import type { TcpListener } from "../net/tcp_listener.ts";

const MAX_HEAD = 16 * 1024;
const IDLE_MS = 10_000;

export interface HttpbinAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

/** What the replica `name` answers for `path` to a client at `client`. Pure. */
export function httpbinAnswer(name: string, path: string, client: string): HttpbinAnswer {
  switch (path.split("?")[0]) {
    case "/":
      return { status: 200, type: "text/html", body: "<title>httpbin.org</title>\n" };
    case "/ip":
      return { status: 200, type: "application/json", body: `{"origin": "${client}"}\n` };
    case "/hostname":
      return { status: 200, type: "application/json", body: `{"hostname": "${name}"}\n` };
    default:
      return { status: 404, type: "text/plain", body: "not found\n" };
  }
}

const REASON: Record<number, string> = { 200: "OK", 400: "Bad Request", 404: "Not Found", 431: "Too Large" };

function respond(socket: net.Socket, name: string, a: HttpbinAnswer): void {
  const body = new TextEncoder().encode(a.body);
  socket.end(
    `HTTP/1.1 ${a.status} ${REASON[a.status] ?? ""}\r\ncontent-type: ${a.type}\r\n` +
      `content-length: ${body.length}\r\nx-served-by: ${name}\r\nconnection: close\r\n\r\n${a.body}`,
  );
}

export class PodHttpbin {
  readonly #listener: TcpListener;
  readonly #open = new Set<net.Socket>();

  /** Listens on `ip`:`port` in the factory's namespace (now: a bind failure throws). */
  constructor(readonly name: string, factory: SocketFactory, port: number, ip = "0.0.0.0") {
    const libc = factory.libc;
    this.#listener = factory.listenTcp({ ip, port });
    this.#listener.serve({ onConnection: ({ socket, fd }) => this.#serve(libc, socket, fd) });
  }

  #serve(libc: Libc, socket: net.Socket, fd: number): void {
    const client = peerAddress(libc, fd)?.ip ?? "unknown";
    this.#open.add(socket);
    socket.once("close", () => this.#open.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    let head = "";
    const onData = (chunk: Uint8Array) => {
      head += new TextDecoder().decode(chunk);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0 && head.length <= MAX_HEAD) return;
      socket.off("data", onData);
      if (end < 0 || end > MAX_HEAD) {
        respond(socket, this.name, { status: 431, type: "text/plain", body: "request head too large\n" });
        return;
      }
      const m = /^GET (\S+) HTTP\/1\.[01]\r\n/.exec(head);
      if (!m) {
        respond(socket, this.name, { status: 400, type: "text/plain", body: "bad request\n" });
        return;
      }
      respond(socket, this.name, httpbinAnswer(this.name, m[1], client));
    };
    socket.on("data", onData);
  }

  close(): void {
    this.#listener.close();
    for (const s of this.#open) s.destroy();
  }
}
