/** Live byte counts of proxied connections (read by the admin page, the access log and metrics). */

/** Live byte counts of a socket ⇄ stream relay, by direction. */
export interface RelayCounts {
  /** Bytes read from the socket and sent into the stream. */
  fromConn: number;
  /** Bytes read from the stream and written to the socket. */
  fromStream: number;
}

/**
 * RelayCounts that also read as client-side `sent`/`recv` (accessors on the prototype: no per-connection
 * closures). `connIsClient`: the socket is the client (outbound) or the upstream app (inbound).
 */
export class RelayCounter implements RelayCounts {
  fromConn = 0;
  fromStream = 0;
  constructor(readonly connIsClient: boolean) {}
  get sent(): number {
    return this.connIsClient ? this.fromConn : this.fromStream;
  }
  get recv(): number {
    return this.connIsClient ? this.fromStream : this.fromConn;
  }
}

/** Live byte counts of a socket ⇄ socket relay, from the client's point of view. */
export interface ByteCounts {
  /** Bytes from the client towards the upstream. */
  sent: number;
  /** Bytes from the upstream back to the client. */
  recv: number;
}
