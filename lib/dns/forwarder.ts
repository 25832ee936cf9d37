/**
 * One pod's upstream resolver, as ztunnel's forwarder: a name is re-resolved (a fresh query of zt's own,
 * not the client's packet relayed) through the upstream servers in order, over UDP from a new socket
 * made by the pod's socket factory (its netns, mark 0x539: not captured back into 15053; shared by up to
 * 64 lookups, lib/dns/udp_channel.ts), retried over
 * TCP when the answer is truncated. NOERROR and NXDOMAIN are final; SERVFAIL, REFUSED and the like move
 * on to the next server; no answer within the timeout is a try, `attempts` rounds over all servers.
 * In-flight lookups are bounded per pod, so one pod's query flood cannot take another pod's turn.
 */
import type dgram from "node:dgram";
import type net from "node:net";
import { errorMessage } from "../error.ts";
import { formatSocketAddr, type SocketAddr } from "../state/ip.ts";
import { decodeMessage } from "./dns_decoder.ts";
import { encodeMessage } from "./dns_encoder.ts";
import { type DnsMessage, type DnsQuestion, type DnsRecord, Opcode, Rcode } from "./dns_types.ts";
import { frameTcpMessage, readTcpMessages } from "./tcp_framing.ts";
import { answersQuestion, type Try, UdpChannel } from "./udp_channel.ts";

/** The sockets a forwarder needs (a pod's SocketFactory). */
export interface UpstreamSockets {
  bindUdp(addr: SocketAddr): dgram.Socket;
  connectTcp(dst: SocketAddr, opts?: { timeoutMs?: number }): Promise<net.Socket>;
}

export interface ForwarderOptions {
  readonly sockets: UpstreamSockets;
  readonly upstreams: readonly SocketAddr[];
  /** Per try (ztunnel/hickory default 5 s). */
  readonly timeoutMs?: number;
  /** Rounds over all servers (default 2). */
  readonly attempts?: number;
  /** Lookups in flight at once; more are refused at once (default 64). */
  readonly maxInFlight?: number;
  /** EDNS payload size we advertise upstream (default 1232). */
  readonly udpSize?: number;
  /** Lookups per UDP socket before a fresh one (a new source port) is made (default 64). */
  readonly udpSocketUses?: number;
}

export type UpstreamFailure = "timeout" | "busy" | "no upstreams" | "network";

export type UpstreamResult =
  | {
    readonly kind: "answer";
    readonly rcode: number;
    readonly answers: readonly DnsRecord[];
    readonly additionals: readonly DnsRecord[];
    /** The server that answered, `ip:port`, and how. */
    readonly server: string;
    readonly transport: "udp" | "tcp";
  }
  | { readonly kind: "failed"; readonly reason: UpstreamFailure; readonly detail: string };

/** A final upstream answer that is no error for ztunnel's metrics: NOERROR with records. */
export function isUpstreamSuccess(r: UpstreamResult): boolean {
  return r.kind === "answer" && r.rcode === Rcode.NOERROR && r.answers.length > 0;
}

const MOVE_ON = new Set<number>([Rcode.SERVFAIL, Rcode.NOTIMP, Rcode.REFUSED, Rcode.FORMERR]);

function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0];
}

export class Forwarder {
  readonly #o: ForwarderOptions;
  #inFlight = 0;
  readonly #channels = new Map<string, UdpChannel>();

  constructor(opts: ForwarderOptions) {
    this.#o = opts;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get upstreams(): readonly SocketAddr[] {
    return this.#o.upstreams;
  }

  async lookup(q: DnsQuestion): Promise<UpstreamResult> {
    const o = this.#o;
    if (o.upstreams.length === 0) {
      return { kind: "failed", reason: "no upstreams", detail: "no upstream servers" };
    }
    if (this.#inFlight >= (o.maxInFlight ?? 64)) {
      return { kind: "failed", reason: "busy", detail: `${this.#inFlight} upstream lookups in flight` };
    }
    this.#inFlight++;
    try {
      return await this.#lookup(q);
    } finally {
      this.#inFlight--;
    }
  }

  async #lookup(q: DnsQuestion): Promise<UpstreamResult> {
    const o = this.#o;
    let last: UpstreamResult = { kind: "failed", reason: "timeout", detail: "no answer" };
    for (let attempt = 0; attempt < (o.attempts ?? 2); attempt++) {
      for (const server of o.upstreams) {
        let transport: "udp" | "tcp" = "udp";
        let r = await this.#udp(server, q);
        if (r.kind === "message" && r.message.tc) {
          transport = "tcp";
          r = await this.#tcp(server, q);
        }
        if (r.kind === "error") {
          last = {
            kind: "failed",
            reason: r.reason,
            detail: `${formatSocketAddr(server.ip, server.port)}: ${r.detail}`,
          };
          continue;
        }
        const m = r.message;
        last = {
          kind: "answer",
          rcode: m.rcode,
          answers: m.answers,
          additionals: m.additionals,
          server: formatSocketAddr(server.ip, server.port),
          transport,
        };
        if (!MOVE_ON.has(m.rcode)) return last;
      }
    }
    return last;
  }

  #query(q: DnsQuestion, id: number): Uint8Array {
    const m: DnsMessage = {
      id,
      qr: false,
      opcode: Opcode.QUERY,
      aa: false,
      tc: false,
      rd: true,
      ra: false,
      ad: false,
      cd: false,
      rcode: 0,
      questions: [q],
      answers: [],
      authorities: [],
      additionals: [],
      edns: { udpSize: this.#o.udpSize ?? 1232, version: 0, dnssecOk: false, extendedRcode: 0 },
    };
    return encodeMessage(m).bytes;
  }

  async #udp(server: SocketAddr, q: DnsQuestion): Promise<Try> {
    const key = formatSocketAddr(server.ip, server.port);
    let ch = this.#channels.get(key);
    if (!ch || ch.retired) {
      try {
        ch = new UdpChannel(this.#o.sockets, server, this.#o.udpSocketUses);
      } catch (e) {
        return { kind: "error", reason: "network", detail: errorMessage(e) };
      }
      this.#channels.set(key, ch);
    }
    return await ch.exchange(q, (id) => this.#query(q, id), this.#o.timeoutMs ?? 5000);
  }

  /** Closes the shared UDP sockets (lookups in flight fail). */
  close(): void {
    for (const ch of this.#channels.values()) ch.close();
    this.#channels.clear();
  }

  async #tcp(server: SocketAddr, q: DnsQuestion): Promise<Try> {
    const id = randomId();
    const timeoutMs = this.#o.timeoutMs ?? 5000;
    let sock: net.Socket;
    try {
      sock = await this.#o.sockets.connectTcp(server, { timeoutMs });
    } catch (e) {
      return { kind: "error", reason: "network", detail: errorMessage(e) };
    }
    return await new Promise<Try>((resolve) => {
      const done = (t: Try) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(t);
      };
      const timer = setTimeout(
        () => done({ kind: "error", reason: "timeout", detail: `no TCP answer within ${timeoutMs} ms` }),
        timeoutMs,
      );
      sock.on("error", (e) => done({ kind: "error", reason: "network", detail: errorMessage(e) }));
      sock.on(
        "end",
        () => done({ kind: "error", reason: "network", detail: "connection closed before the answer" }),
      );
      readTcpMessages(sock, (buf) => {
        try {
          const m = decodeMessage(buf);
          if (answersQuestion(q, id, m)) done({ kind: "message", message: m });
        } catch (e) {
          done({ kind: "error", reason: "network", detail: `bad answer: ${errorMessage(e)}` });
        }
      });
      sock.write(frameTcpMessage(this.#query(q, id)));
    });
  }
}
