/**
 * A connected UDP socket from a pod to one upstream server, shared by up to `maxUses` lookups, then
 * retired (no new lookups; closed once its last answer is in or timed out) so the source port keeps
 * changing. An answer is taken only from the connected server (the kernel filters the rest), with the
 * lookup's random id and its exact question. Sharing spares a socket creation per lookup.
 */
import type dgram from "node:dgram";
import { errorMessage } from "../error.ts";
import { ipFamily, type SocketAddr } from "../state/ip.ts";
import { decodeMessage } from "./dns_decoder.ts";
import { lowerName } from "./dns_name.ts";
import type { DnsMessage, DnsQuestion } from "./dns_types.ts";

export type Try =
  | { readonly kind: "message"; readonly message: DnsMessage }
  | { readonly kind: "error"; readonly reason: "timeout" | "network"; readonly detail: string };

/** `m` answers the question `q` asked with `id`. */
export function answersQuestion(q: DnsQuestion, id: number, m: DnsMessage): boolean {
  const a = m.questions[0];
  return m.qr && m.id === id && m.questions.length === 1 && a.type === q.type && a.class === q.class &&
    lowerName(a.name) === lowerName(q.name);
}

interface Pending {
  readonly q: DnsQuestion;
  readonly done: (t: Try) => void;
}

export class UdpChannel {
  readonly #sock: dgram.Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #maxUses: number;
  readonly #ready: Promise<string | undefined>;
  #uses = 0;
  #broken?: string;
  #closed = false;

  /** Binds (through the pod's sockets) and connects; throws when the socket cannot be made. */
  constructor(sockets: { bindUdp(a: SocketAddr): dgram.Socket }, server: SocketAddr, maxUses = 64) {
    this.#maxUses = maxUses;
    this.#sock = sockets.bindUdp({ ip: ipFamily(server.ip) === 6 ? "::" : "0.0.0.0", port: 0 });
    this.#sock.on("error", (e) => this.#fail(errorMessage(e)));
    this.#sock.on("message", (buf: Uint8Array) => this.#message(buf));
    this.#ready = new Promise((resolve) => {
      try {
        this.#sock.connect(server.port, server.ip, () => resolve(undefined));
      } catch (e) {
        resolve(errorMessage(e));
      }
    });
  }

  /** Takes no new lookups (used up or broken). */
  get retired(): boolean {
    return this.#closed || this.#broken !== undefined || this.#uses >= this.#maxUses;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Sends `query(id)` for `q` with a fresh random id and waits for its answer. */
  async exchange(q: DnsQuestion, query: (id: number) => Uint8Array, timeoutMs: number): Promise<Try> {
    this.#uses++;
    let id: number;
    do id = crypto.getRandomValues(new Uint16Array(1))[0]; while (this.#pending.has(id));
    const notReady = await this.#ready;
    if (notReady || this.#broken) {
      return this.#finish({ kind: "error", reason: "network", detail: notReady ?? this.#broken! });
    }
    return await new Promise<Try>((resolve) => {
      const timer = setTimeout(
        () => done({ kind: "error", reason: "timeout", detail: `no answer within ${timeoutMs} ms` }),
        timeoutMs,
      );
      const done = (t: Try) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(this.#finish(t));
      };
      this.#pending.set(id, { q, done });
      this.#sock.send(query(id), (err) => {
        if (err) done({ kind: "error", reason: "network", detail: errorMessage(err) });
      });
    });
  }

  #finish(t: Try): Try {
    if (this.retired && this.#pending.size === 0) this.close();
    return t;
  }

  #message(buf: Uint8Array): void {
    if (buf.length < 2) return;
    const p = this.#pending.get((buf[0] << 8) | buf[1]);
    if (!p) return;
    let m: DnsMessage;
    try {
      m = decodeMessage(buf);
    } catch {
      return; // not an answer: keep waiting
    }
    if (answersQuestion(p.q, m.id, m)) p.done({ kind: "message", message: m });
  }

  #fail(detail: string): void {
    this.#broken = detail;
    for (const p of [...this.#pending.values()]) p.done({ kind: "error", reason: "network", detail });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail("closed");
    try {
      this.#sock.close();
    } catch { /* already closed */ }
  }
}
