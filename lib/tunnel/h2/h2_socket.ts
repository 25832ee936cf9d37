/** The byte transport under an H2Session: node:tls / node:net sockets fit as they are. */
import type { BufferLease } from "./buffer_lease.ts";

export interface H2Socket {
  /**
   * Queues `data`; false once the socket's write queue is over its high-water mark ("drain" follows).
   * `flushed`: called once the socket no longer needs `data` (node:tls: written to the handle).
   */
  write(data: Uint8Array, flushed?: () => void): boolean;
  cork?(): void;
  uncork?(): void;
  end(): void;
  destroy(err?: Error): void;
  /**
   * Stop / restart "data" events (node:tls and node:net have them). The session pauses reading while
   * replies it owes a peer that does not read are piling up; without these it ends such a connection.
   */
  pause?(): unknown;
  resume?(): unknown;
  /** Opt in to leased, reused receive buffers (sockets that can; node:tls cannot). */
  reuseReceiveBuffers?(): void;
  /** `lease`, when given: retain it to keep a view of `chunk` past the callback (see buffer_lease.ts). */
  on(event: "data", fn: (chunk: Uint8Array, lease?: BufferLease) => void): unknown;
  on(event: "drain" | "close", fn: () => void): unknown;
  on(event: "error", fn: (e: Error) => void): unknown;
}
