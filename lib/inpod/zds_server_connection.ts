/**
 * One node proxy connected to zt's istio-cni side (istio-cni ztunnelserver.go handleConn): read its
 * hello (5 s), send the snapshot waiting for an ack after each message, then send queued updates one
 * at a time, each with a 5 s write and ack deadline. After 5 s without an update it probes with a 10 ms
 * read: nothing is alive, end of stream ends quietly, any packet is a protocol error. Acks carry no id:
 * the next packet after a request is its ack, so a late ack answers the next request, as in istio-cni.
 */
import type { Libc } from "../net/libc.ts";
import { E, SyscallError } from "../net/libc.ts";
import type { Packet, SeqpacketSocket } from "../net/seqpacket.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage, ZtError } from "../error.ts";
import { sleep } from "./backoff.ts";
import {
  decodeHello,
  decodeWorkloadResponse,
  describeRequest,
  encodeWorkloadRequest,
  type ZdsRequest,
  type ZdsResponse,
} from "./zds_messages.ts";

export type ZdsServerErrorKind =
  | "no_connection" // no node proxy connected (istio-cni: "no ztunnel connection")
  | "ack_error" // the node proxy NACKed
  | "timeout" // no hello or ack within the deadline, or a write that did not finish
  | "closed" // the connection ended
  | "broken_pipe" // the write failed: the connection is gone
  | "protocol" // a packet nobody asked for, or one that is not an ack
  | "queue_full"; // 100 updates already waiting on this connection

export class ZdsServerError extends ZtError {
  constructor(readonly reason: ZdsServerErrorKind, message: string) {
    super("zds_server", message);
  }
}

export interface ZdsServerTimings {
  /** istio-cni's readWriteDeadline. */
  readonly deadlineMs: number;
  /** defaultZTunnelKeepAliveCheckInterval. */
  readonly keepaliveMs: number;
  /** The keepalive read's deadline. */
  readonly probeMs: number;
}

export const CNI_TIMINGS: ZdsServerTimings = { deadlineMs: 5000, keepaliveMs: 5000, probeMs: 10 };

/** One snapshot entry: Add with the netns fd when the pod's netns is open, else Keep. The handle is
 *  read when the entry is sent (a pod removed meanwhile has a closed handle, fd -1, and is skipped). */
export type SnapshotEntry = { readonly request: ZdsRequest; readonly netns?: { readonly fd: number } };

type Item = { readonly packet: Packet } | { readonly end: "eof" | string };

interface Update {
  readonly request: ZdsRequest;
  readonly netns?: { readonly fd: number };
  readonly done: (r: { response?: ZdsResponse; error?: ZdsServerError }) => void;
}

const UPDATE_QUEUE = 100;
/** Packets read ahead of the handler (any of them is already an error). */
const READ_AHEAD = 4;

export class ZdsServerConnection {
  readonly #socket: SeqpacketSocket;
  readonly #libc: Libc;
  readonly #log: Logger;
  readonly #t: ZdsServerTimings;
  readonly #items: Item[] = [];
  #itemWaiter?: () => void;
  #spaceWaiter?: () => void;
  readonly #updates: Update[] = [];
  #updateWaiter?: () => void;
  #closed = false;
  readonly #closing = new AbortController();

  constructor(socket: SeqpacketSocket, libc: Libc, log: Logger, readonly id: number, t: ZdsServerTimings) {
    this.#socket = socket;
    this.#libc = libc;
    this.#log = log;
    this.#t = t;
    this.#readLoop();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Serves the connection until it ends; never rejects. */
  async run(snapshot: () => SnapshotEntry[]): Promise<void> {
    try {
      const hello = await this.#read(this.#t.deadlineMs);
      if (hello === "timeout" || !("packet" in hello)) throw this.#ended(hello, "hello");
      const h = decodeHello(hello.packet.data);
      if (!h.ok) throw new ZdsServerError("protocol", `bad hello: ${h.error.detail}`);
      this.#log.info("received hello from ztunnel", { connection: this.id, version: h.message.version });
      for (const entry of [...snapshot(), { request: { kind: "snapshot_sent" } as ZdsRequest }]) {
        if (entry.netns && entry.netns.fd < 0) continue;
        const r = await this.#exchange(entry.request, entry.netns?.fd);
        if (r.kind === "ack" && r.error) {
          this.#log.error("snapshot: got ack error", {
            request: describeRequest(entry.request),
            error: r.error,
          });
        }
      }
      this.#log.debug("snapshot sent to ztunnel", { connection: this.id });
      await this.#serveUpdates();
    } catch (e) {
      if (!this.#closed) {
        this.#log.warn("ztunnel connection ended", { connection: this.id, error: errorMessage(e) });
      }
    } finally {
      this.close();
    }
  }

  /** Queues one update (Add with the pod's netns handle to the latest connection, Del to all); resolves
   *  with its ack. The handle's fd is read when the update is sent: a closed one (pod removed) is refused. */
  send(request: ZdsRequest, netns?: { readonly fd: number }): Promise<ZdsResponse> {
    if (this.#closed) return Promise.reject(new ZdsServerError("closed", "ztunnel connection closed"));
    if (this.#updates.length >= UPDATE_QUEUE) {
      return Promise.reject(new ZdsServerError("queue_full", `${UPDATE_QUEUE} updates already queued`));
    }
    return new Promise((resolve, reject) => {
      this.#updates.push({
        request,
        netns,
        done: (r) => (r.error ? reject(r.error) : resolve(r.response!)),
      });
      this.#updateWaiter?.();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#socket.close();
    for (const u of this.#updates.splice(0)) {
      u.done({ error: new ZdsServerError("closed", "ztunnel connection closed") });
    }
    this.#itemWaiter?.();
    this.#updateWaiter?.();
  }

  async #serveUpdates(): Promise<void> {
    while (!this.#closed) {
      const update = this.#updates.shift();
      if (update) {
        if (update.netns && update.netns.fd < 0) {
          update.done({
            error: new ZdsServerError("closed", "the pod's netns was closed before it was sent"),
          });
          continue;
        }
        try {
          update.done({ response: await this.#exchange(update.request, update.netns?.fd) });
        } catch (e) {
          const err = e instanceof ZdsServerError ? e : new ZdsServerError("protocol", errorMessage(e));
          update.done({ error: err });
          // A dead connection goes; a late or bad ack is logged and the connection kept, as istio-cni does.
          if (err.reason === "broken_pipe" || err.reason === "closed") throw err;
          this.#log.warn("timed out waiting for valid ztunnel response", {
            connection: this.id,
            error: err.message,
          });
        }
        continue;
      }
      const woke = await this.#waitForUpdate(this.#t.keepaliveMs);
      if (woke || this.#closed) continue;
      const probe = await this.#read(this.#t.probeMs);
      if (probe === "timeout") continue;
      if ("packet" in probe) {
        throw new ZdsServerError("protocol", "ztunnel protocol error, unexpected message");
      }
      if (probe.end === "eof") return;
      throw new ZdsServerError("closed", probe.end);
    }
  }

  /** Sends one request and reads the packet after it as its ack. */
  async #exchange(request: ZdsRequest, fd?: number): Promise<ZdsResponse> {
    const sent = this.#socket.send(encodeWorkloadRequest(request), fd === undefined ? [] : [fd]).then(
      () => "sent" as const,
      (e) => e,
    );
    const cancel = new AbortController();
    const deadline = sleep(this.#t.deadlineMs, AbortSignal.any([this.#closing.signal, cancel.signal]));
    const w = await Promise.race([sent, deadline.then(() => "timeout" as const)]);
    cancel.abort();
    if (w === "timeout") {
      throw this.#closed
        ? new ZdsServerError("closed", "closed")
        : new ZdsServerError("timeout", "write timed out");
    }
    if (w !== "sent") {
      const broken = w instanceof SyscallError && (w.errno === E.EPIPE || w.errno === E.ECONNRESET);
      throw new ZdsServerError(broken ? "broken_pipe" : "closed", `sendmsg: ${errorMessage(w)}`);
    }
    const item = await this.#read(this.#t.deadlineMs);
    if (item === "timeout" || !("packet" in item)) {
      throw this.#ended(item, `ack of ${describeRequest(request)}`);
    }
    const r = decodeWorkloadResponse(item.packet.data);
    if (!r.ok) throw new ZdsServerError("protocol", `bad ack: ${r.error.detail}`);
    return r.message;
  }

  #ended(item: Item | "timeout", what: string): ZdsServerError {
    if (item === "timeout") {
      return new ZdsServerError("timeout", `no ${what} within ${this.#t.deadlineMs} ms`);
    }
    const end = "end" in item ? item.end : "packet";
    return new ZdsServerError("closed", `${what}: ${end === "eof" ? "EOF" : end}`);
  }

  /** The next packet or end, or "timeout" after `ms`. */
  async #read(ms: number): Promise<Item | "timeout"> {
    if (this.#items.length === 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.#itemWaiter = done;
      });
      this.#itemWaiter = undefined;
    }
    const item = this.#items.shift();
    this.#spaceWaiter?.();
    if (item) return item;
    return this.#closed ? { end: "closed" } : "timeout";
  }

  #waitForUpdate(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#updateWaiter = undefined;
        resolve(false);
      }, ms);
      this.#updateWaiter = () => {
        clearTimeout(t);
        this.#updateWaiter = undefined;
        resolve(true);
      };
    });
  }

  /** Reads packets as they come, so deadlines are plain waits on this queue. */
  async #readLoop(): Promise<void> {
    for (;;) {
      while (this.#items.length >= READ_AHEAD && !this.#closed) {
        await new Promise<void>((r) => (this.#spaceWaiter = r));
        this.#spaceWaiter = undefined;
      }
      if (this.#closed) return;
      let item: Item;
      try {
        const p = await this.#socket.recv(1024);
        // A zero-length packet is end of stream to Go as well.
        if (!p || p.data.length === 0) item = { end: "eof" };
        else if (p.fds.length > 0 || p.truncated) {
          for (const fd of p.fds) this.#libc.closeFd(fd);
          item = { end: p.truncated ? "truncated message" : "truncated control message" };
        } else item = { packet: p };
      } catch (e) {
        item = { end: this.#closed ? "closed" : errorMessage(e) };
      }
      this.#items.push(item);
      this.#itemWaiter?.();
      if (!("packet" in item)) return;
    }
  }
}
