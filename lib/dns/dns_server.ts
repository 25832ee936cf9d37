/**
 * One pod's DNS proxy (ztunnel's 15053), on UDP and TCP at each of its addresses. Every request is
 * answered as the pod's DNS would be (lib/dns/name_resolver.ts): mesh names locally, the rest
 * re-resolved upstream. The asking pod is this server's pod, never the packet's source address; while
 * its workload is unknown a request waits up to 5 s for it, then gets SERVFAIL.
 *
 * Hostile input: a packet shorter than a header is dropped, one that does not decode gets FORMERR,
 * other opcodes NOTIMP; each is counted (zt_dns_rejected_requests_total) and logged at debug, with a
 * warning at most every 10 s. TCP connections are bounded per pod and closed after 5 s without a
 * complete request (ztunnel's TCP request timeout); a connection's unread requests are bounded too.
 */
import type dgram from "node:dgram";
import type net from "node:net";
import { errorMessage } from "../error.ts";
import type { Logger } from "../log/logger.ts";
import { formatSocketAddr, type SocketAddr } from "../state/ip.ts";
import type { Workload } from "../state/types.ts";
import type { TcpListener } from "../net/tcp_listener.ts";
import { decodeHeader, decodeMessage } from "./dns_decoder.ts";
import { encodeMessage, MAX_MESSAGE_SIZE } from "./dns_encoder.ts";
import { DnsMetrics, type DnsProtocol } from "./dns_metrics.ts";
import { errorResponse, resolvedResponse, udpLimit } from "./dns_response.ts";
import { type DnsMessage, Opcode, Rcode, typeName } from "./dns_types.ts";
import { isUpstreamSuccess } from "./forwarder.ts";
import type { NameResolver, Resolution } from "./name_resolver.ts";
import { serveTcpConnection } from "./tcp_connection.ts";
import { WorkloadWaiter } from "./workload_waiter.ts";
import type { DnsRejections, RejectReason } from "./dns_rejections.ts";

/** The sockets a DNS server binds (a pod's SocketFactory). */
export interface ServerSockets {
  bindUdp(addr: SocketAddr): dgram.Socket;
  listenTcp(addr: SocketAddr): TcpListener;
}

export interface DnsServerOptions {
  readonly sockets: ServerSockets;
  /** Bound on UDP and TCP each; a failure throws from start() (the pod does not start). */
  readonly addresses: readonly SocketAddr[];
  /** Bound if possible (`::1` where the pod's loopback may have no IPv6); a failure is logged. */
  readonly optionalAddresses?: readonly SocketAddr[];
  readonly resolver: NameResolver;
  /** The pod's workload, looked up per request (the config may change). */
  readonly clientWorkload: () => Workload | undefined;
  readonly metrics: DnsMetrics;
  readonly rejections: DnsRejections;
  readonly log: Logger;
  /** ztunnel's wait_for_workload (5 s). */
  readonly workloadWaitMs?: number;
  /** ztunnel's TCP request timeout (5 s). */
  readonly tcpTimeoutMs?: number;
  readonly maxTcpConnections?: number;
  /** Requests at once waiting for the pod's workload; more get SERVFAIL at once. */
  readonly maxWaiting?: number;
}

export class DnsServer {
  readonly #o: DnsServerOptions;
  #udp: dgram.Socket[] = [];
  #listeners: TcpListener[] = [];
  #conns = new Set<net.Socket>();
  readonly #waiter: WorkloadWaiter;
  #closed = false;
  /** The addresses bound, UDP and TCP alike. */
  readonly bound: SocketAddr[] = [];

  constructor(opts: DnsServerOptions) {
    this.#o = opts;
    this.#waiter = new WorkloadWaiter(
      opts.clientWorkload,
      opts.workloadWaitMs ?? 5000,
      opts.maxWaiting ?? 1024,
    );
  }

  /** Binds everything now; throws (closing what was bound) if a required address cannot be bound. */
  start(): void {
    try {
      for (const a of this.#o.addresses) this.#bind(a);
    } catch (e) {
      this.close();
      throw e;
    }
    for (const a of this.#o.optionalAddresses ?? []) {
      try {
        this.#bind(a);
      } catch (e) {
        this.#o.log.debug("dns address skipped", {
          address: formatSocketAddr(a.ip, a.port),
          error: errorMessage(e),
        });
      }
    }
  }

  #bind(a: SocketAddr): void {
    const o = this.#o;
    const udp = o.sockets.bindUdp(a);
    this.#udp.push(udp);
    udp.on("message", (buf: Uint8Array, rinfo: dgram.RemoteInfo) => {
      this.handle(buf, "udp").then((out) => {
        if (out && !this.#closed) udp.send(out, rinfo.port, rinfo.address, () => {});
      });
    });
    udp.on("error", (e) => o.log.debug("dns udp error", { error: errorMessage(e) }));
    const tcp = o.sockets.listenTcp(
      udp.address().port === a.port ? a : { ip: a.ip, port: udp.address().port },
    );
    this.#listeners.push(tcp);
    tcp.serve({
      onConnection: ({ socket }) => this.#serveTcp(socket),
      onAcceptError: (errno) => o.log.debug("dns accept failed", { errno }),
    });
    this.bound.push({ ip: a.ip, port: udp.address().port });
  }

  get tcpConnections(): number {
    return this.#conns.size;
  }

  #reject(reason: RejectReason, detail: string): void {
    this.#o.rejections.reject(reason, detail);
  }

  /** The response to one request packet, or undefined when it is dropped. */
  async handle(buf: Uint8Array, protocol: DnsProtocol): Promise<Uint8Array | undefined> {
    let header;
    try {
      header = decodeHeader(buf);
    } catch (e) {
      this.#reject("short", errorMessage(e));
      return undefined;
    }
    let req: DnsMessage;
    try {
      req = decodeMessage(buf);
    } catch (e) {
      this.#reject("malformed", errorMessage(e));
      return this.#encode(errorResponse(header, Rcode.FORMERR), protocol, undefined);
    }
    if (req.qr) {
      this.#reject("malformed", "a response sent as a request");
      return this.#encode(errorResponse(req, Rcode.FORMERR), protocol, req);
    }
    if (req.opcode !== Opcode.QUERY) {
      this.#reject("not_query", `opcode ${req.opcode}`);
      return this.#encode(errorResponse(req, Rcode.NOTIMP), protocol, req);
    }
    if (req.questions.length !== 1) {
      this.#reject("malformed", `${req.questions.length} questions`);
      return this.#encode(errorResponse(req, Rcode.FORMERR), protocol, req);
    }
    return this.#encode(await this.#answer(req, protocol), protocol, req);
  }

  async #answer(req: DnsMessage, protocol: DnsProtocol): Promise<DnsMessage> {
    const o = this.#o;
    const q = req.questions[0];
    const started = performance.now();
    const waiting = this.#waiter.get();
    if (waiting === "full") {
      this.#reject(
        "workload_wait",
        `${this.#waiter.waiting} requests already waiting for the pod's workload`,
      );
    }
    const pod = waiting === "full" ? undefined : await waiting;
    if (!pod) {
      o.metrics.request(DnsMetrics.labels(q.type, protocol, undefined));
      this.#access(req, undefined, "unknown source", "none", 0, started);
      return errorResponse(req, Rcode.SERVFAIL);
    }
    const labels = DnsMetrics.labels(q.type, protocol, pod);
    o.metrics.request(labels);
    let r: Resolution;
    try {
      r = await o.resolver.query(pod, q);
    } catch (e) {
      o.log.warn("dns lookup failed", { domain: `${q.name}.`, error: errorMessage(e) });
      return errorResponse(req, Rcode.SERVFAIL);
    }
    if (r.source === "local") {
      this.#access(req, pod, r.answer.result, "local", r.answer.addresses.length, started);
    } else {
      const failed = !isUpstreamSuccess(r.result);
      o.metrics.forwarded(labels, (performance.now() - started) / 1000, failed);
      if (r.result.kind === "failed" && r.result.reason === "busy") {
        this.#reject("upstream_busy", r.result.detail);
      }
      const result = r.result.kind === "answer"
        ? (failed ? `forwarding failed (${rcodeText(r.result.rcode, r.result.answers.length)})` : "forwarded")
        : `forwarding failed (${r.result.detail})`;
      this.#access(
        req,
        pod,
        result,
        "upstream",
        r.result.kind === "answer" ? r.result.answers.length : 0,
        started,
      );
    }
    return resolvedResponse(req, r);
  }

  #encode(m: DnsMessage, protocol: DnsProtocol, req: DnsMessage | undefined): Uint8Array {
    const limit = protocol === "udp" ? udpLimit(req ?? {}) : MAX_MESSAGE_SIZE;
    try {
      return encodeMessage(m, limit).bytes;
    } catch (e) {
      this.#o.log.warn("dns response could not be encoded", { error: errorMessage(e) });
      return encodeMessage(errorResponse(m, Rcode.SERVFAIL), limit).bytes;
    }
  }

  #access(
    req: DnsMessage,
    pod: Workload | undefined,
    result: string,
    source: "local" | "upstream" | "none",
    endpoints: number,
    started: number,
  ): void {
    const log = this.#o.log;
    if (!log.enabled("debug")) return;
    const q = req.questions[0];
    log.debug("dns request", {
      "src.workload": pod?.name ?? "unknown",
      "src.namespace": pod?.namespace ?? "unknown",
      query: typeName(q.type),
      domain: `${q.name}.`,
      result,
      endpoints,
      source,
      duration: `${Math.round(performance.now() - started)}ms`,
    });
  }

  #serveTcp(sock: net.Socket): void {
    const o = this.#o;
    if (this.#closed || this.#conns.size >= (o.maxTcpConnections ?? 64)) {
      this.#reject("tcp_connections", `${this.#conns.size} TCP connections open`);
      sock.destroy();
      return;
    }
    this.#conns.add(sock);
    const timeoutMs = o.tcpTimeoutMs ?? 5000;
    serveTcpConnection(sock, {
      handle: (req) => this.handle(req, "tcp"),
      timeoutMs,
      onTimeout: () => this.#reject("tcp_timeout", `no complete request within ${timeoutMs} ms`),
      onClose: () => this.#conns.delete(sock),
    });
  }

  /** Stops at once: sockets closed, TCP connections cut, waiting requests dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#udp) {
      try {
        u.close();
      } catch { /* already closed */ }
    }
    for (const l of this.#listeners) l.close();
    for (const c of this.#conns) c.destroy();
    this.#waiter.close();
    this.#udp = [];
    this.#listeners = [];
  }
}

function rcodeText(rcode: number, answers: number): string {
  if (rcode === Rcode.NOERROR && answers === 0) return "no records";
  return ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"][rcode] ?? `rcode ${rcode}`;
}
