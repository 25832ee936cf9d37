/**
 * zt's side of ZDS, byte-compatible with istio-cni's server: connect to INPOD_UDS (retrying forever
 * with ztunnel's backoff), send the hello, then read requests one at a time and answer each with
 * exactly one Ack (a NACK carries the error text) — never a packet unprompted. A read error is
 * NACKed, then the connection is dropped and made again at once; end of stream reconnects at once;
 * a fatal request (the handler says so) is NACKed and ends `run()` with "fatal" — the caller exits.
 */
import type { Libc } from "../net/libc.ts";
import type { Readiness as NetReadiness } from "../net/readiness.ts";
import { SeqpacketSocket } from "../net/seqpacket.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../error.ts";
import { AnnounceBackoff, ConnectBackoff, sleep } from "./backoff.ts";
import { describeRequest, encodeAck, encodeHello } from "./zds_messages.ts";
import { readRequest, type ZdsReceived } from "./zds_packet.ts";

/** ztunnel's receive buffer: a longer packet is truncated, and that is a read error. */
export const ZDS_RECV_BYTES = 1024;

/** What the handler makes of one request: the reply sent for it. */
export type ZdsOutcome =
  | { readonly kind: "ack" }
  | { readonly kind: "nack"; readonly error: string }
  /** NACKed, then the session ends for good (a protocol violation: ztunnel exits with code 1). */
  | { readonly kind: "fatal"; readonly error: string };

export interface ZdsHandler {
  /** A new connection is up (before the hello): per-connection state starts again. */
  connected(): void;
  /** One request; the handler owns `received.fd` from here on. */
  handle(received: ZdsReceived): Promise<ZdsOutcome>;
  /** The connection ended (end of stream, a read error, a failed send). */
  disconnected(reason: string): void;
  /** While a read is in flight: resolves when `tick()` is due (pending retries), or undefined for none. */
  timer(): Promise<void> | undefined;
  tick(): Promise<void>;
}

export type ZdsRunEnd = { readonly kind: "stopped" } | { readonly kind: "fatal"; readonly error: string };

export interface ZdsClientOptions {
  readonly path: string;
  readonly libc: Libc;
  readonly readiness: NetReadiness;
  readonly log: Logger;
  readonly connectBackoff?: () => ConnectBackoff;
  readonly announceBackoff?: AnnounceBackoff;
  /** Makes the connection (default: SeqpacketSocket.connect to `path`); tests pass socket pairs. */
  readonly dial?: () => Promise<SeqpacketSocket>;
}

type Event =
  | { readonly t: "packet"; readonly packet: Awaited<ReturnType<SeqpacketSocket["recv"]>> }
  | { readonly t: "error"; readonly error: unknown }
  | { readonly t: "timer" }
  | { readonly t: "stop" };

export class ZdsClient {
  readonly #o: ZdsClientOptions;
  readonly #stop = new AbortController();
  readonly #stopped: Promise<Event>;
  readonly #announce: AnnounceBackoff;
  #socket?: SeqpacketSocket;
  /** Connections made so far (for logs and tests). */
  connections = 0;

  constructor(opts: ZdsClientOptions) {
    this.#o = opts;
    this.#announce = opts.announceBackoff ?? new AnnounceBackoff();
    this.#stopped = new Promise((resolve) => {
      this.#stop.signal.addEventListener("abort", () => resolve({ t: "stop" }), { once: true });
    });
  }

  /** Called once the manager is ready: the next failed hello waits from the start of the series. */
  resetAnnounceBackoff(): void {
    this.#announce.reset();
  }

  /** Stops reading (an in-flight request is finished first) and closes the connection. */
  stop(): void {
    this.#stop.abort();
  }

  /** Runs sessions until `stop()` or a fatal request. */
  async run(handler: ZdsHandler): Promise<ZdsRunEnd> {
    const log = this.#o.log;
    while (!this.#stop.signal.aborted) {
      const socket = await this.#connect();
      if (!socket) break;
      this.connections++;
      this.#socket = socket;
      log.info("handling new stream", { uds: this.#o.path, connection: this.connections });
      handler.connected();
      try {
        try {
          await socket.send(encodeHello());
        } catch (e) {
          const wait = this.#announce.next();
          handler.disconnected(`announce error: ${errorMessage(e)}`);
          log.error("node agent announcement failed, retrying", {
            error: errorMessage(e),
            ms: Math.round(wait),
          });
          await sleep(wait, this.#stop.signal);
          continue;
        }
        const end = await this.#session(socket, handler);
        if (end.kind === "fatal") return end;
        handler.disconnected(end.reason);
      } finally {
        socket.close();
        this.#socket = undefined;
      }
    }
    return { kind: "stopped" };
  }

  async #connect(): Promise<SeqpacketSocket | undefined> {
    const o = this.#o;
    const backoff = o.connectBackoff?.() ?? new ConnectBackoff();
    while (!this.#stop.signal.aborted) {
      try {
        return await (o.dial ? o.dial() : SeqpacketSocket.connect(o.libc, o.readiness, o.path));
      } catch (e) {
        const wait = backoff.next();
        o.log.warn("failed to connect to the Istio CNI node agent, is the node agent healthy? retrying", {
          uds: o.path,
          error: errorMessage(e),
          ms: wait,
        });
        await sleep(wait, this.#stop.signal);
      }
    }
    return undefined;
  }

  /** One connection's request/ack loop; ends on stop, end of stream, a read or send error, or fatal. */
  async #session(
    socket: SeqpacketSocket,
    handler: ZdsHandler,
  ): Promise<{ kind: "ended"; reason: string } | { kind: "fatal"; error: string }> {
    const log = this.#o.log;
    for (;;) {
      // One read per request, kept across retry ticks so no packet is lost.
      const read: Promise<Event> = socket.recv(ZDS_RECV_BYTES).then(
        (packet) => ({ t: "packet", packet }),
        (error) => ({ t: "error", error }),
      );
      let ev: Event;
      for (;;) {
        const timer = handler.timer()?.then((): Event => ({ t: "timer" }));
        ev = await Promise.race(timer ? [this.#stopped, read, timer] : [this.#stopped, read]);
        if (ev.t !== "timer") break;
        await handler.tick();
      }
      if (ev.t === "stop") return { kind: "ended", reason: "stopped" };
      if (ev.t === "error") return { kind: "ended", reason: `read failed: ${errorMessage(ev.error)}` };
      if (ev.t !== "packet") continue;
      const packet = ev.packet;
      if (!packet || packet.data.length === 0) {
        for (const fd of packet?.fds ?? []) this.#o.libc.closeFd(fd);
        log.info("process stream ended with eof");
        return { kind: "ended", reason: "eof" };
      }
      const r = readRequest(this.#o.libc, packet);
      if (!r.ok) {
        log.error("failed to read message", { kind: r.error.kind, error: r.error.detail });
        const sent = await this.#reply(socket, `failure to read message : ${r.error.detail}`);
        return { kind: "ended", reason: sent ? `read error: ${r.error.detail}` : "nack send failed" };
      }
      log.debug("received message", { request: describeRequest(r.received.request) });
      const outcome = await handler.handle(r.received);
      const error = outcome.kind === "ack" ? "" : outcome.error;
      const sent = await this.#reply(socket, error);
      if (outcome.kind === "fatal") return { kind: "fatal", error: outcome.error };
      if (!sent) return { kind: "ended", reason: "ack send failed" };
    }
  }

  /** Sends one Ack (`error` empty) or NACK; false when the connection is broken. */
  async #reply(socket: SeqpacketSocket, error: string): Promise<boolean> {
    try {
      await socket.send(encodeAck(error));
      return true;
    } catch (e) {
      this.#o.log.warn("failed to send ack", { error: errorMessage(e) });
      return false;
    }
  }
}
