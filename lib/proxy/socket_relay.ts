/**
 * Socket ⇄ socket relay (passthrough, plain TCP workloads, inbound plaintext), callbacks only: each
 * side's data is written to the other, a side is paused while the other's write buffer is full, FIN is
 * carried through once everything before it is written, and a failure on one side (a reset, an error)
 * resets the other — a truncated stream never looks complete.
 */
import type net from "node:net";
import { resetSocket } from "../net/socket_info.ts";
import type { ByteCounts } from "./relay_counts.ts";

/** Called once: `error` is undefined when both directions ended cleanly. */
export type RelayDone = (error: Error | undefined) => void;

export class SocketRelay {
  #pending = 2;
  #finished = false;

  /** `client` is the side counts call `sent` from; `prefix`: client bytes already read. */
  constructor(
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    readonly counts: ByteCounts,
    readonly done: RelayDone,
  ) {}

  start(prefix?: Uint8Array): void {
    const { client, upstream, counts } = this;
    if (prefix && prefix.length) {
      counts.sent += prefix.length;
      upstream.write(prefix);
    }
    this.#pipe(client, upstream, (n) => (counts.sent += n));
    this.#pipe(upstream, client, (n) => (counts.recv += n));
    client.resume();
    upstream.resume();
  }

  #pipe(from: net.Socket, to: net.Socket, count: (n: number) => void): void {
    from.on("data", (chunk: Uint8Array) => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on("drain", () => from.resume());
    from.on("end", () => {
      // FIN after the bytes queued before it; this direction is done once they are flushed.
      to.end(() => this.#halfDone());
    });
    from.on("error", (e: Error) => this.#fail(e));
    from.on("close", (hadError: boolean) => {
      if (hadError) this.#fail(new Error("connection reset"));
      else if (!from.readableEnded) this.#fail(new Error("connection closed before end of stream"));
    });
  }

  #halfDone(): void {
    if (--this.#pending > 0 || this.#finished) return;
    this.#finished = true;
    this.client.destroy();
    this.upstream.destroy();
    this.done(undefined);
  }

  #fail(e: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    resetSocket(this.client);
    resetSocket(this.upstream);
    this.done(e);
  }

  /** Tears the relay down now (policy change, drain deadline): both sides are reset. */
  abort(reason: Error): void {
    this.#fail(reason);
  }
}
