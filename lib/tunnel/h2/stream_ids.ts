/**
 * A session's stream identifiers (RFC 9113 §5.1.1): the next one we open, the highest the peer has
 * opened, which ids are idle, and the recent ones we reset (frames on them may still be in flight,
 * and are ignored) or that closed otherwise (frames on them are errors).
 */
import { StreamIdRing } from "./stream_id_ring.ts";

export class StreamIds {
  #next: number;
  #lastPeer = 0;
  #reset = new StreamIdRing();
  #closed = new StreamIdRing();

  constructor(readonly role: "client" | "server") {
    this.#next = role === "client" ? 1 : 2;
  }

  /** The highest stream id the peer has opened (GOAWAY's last-stream-id). */
  get lastPeer(): number {
    return this.#lastPeer;
  }

  /** Takes the next id for a stream we open. */
  take(): number {
    const id = this.#next;
    this.#next += 2;
    return id;
  }

  /** The peer opened `id` (callers check it is above lastPeer first). */
  opened(id: number): void {
    this.#lastPeer = id;
  }

  /** Never used yet by whichever side opens it: frames other than HEADERS/PRIORITY are errors. */
  isIdle(id: number): boolean {
    const peerInitiated = (id % 2 === 1) === (this.role === "server");
    return peerInitiated ? id > this.#lastPeer : id >= this.#next;
  }

  /** A stream id the peer may open (odd towards a server; a client accepts none: no push). */
  isPeerId(id: number): boolean {
    return this.role === "server" && id % 2 === 1;
  }

  markReset(id: number): void {
    this.#reset.add(id);
  }
  wasReset(id: number): boolean {
    return this.#reset.has(id);
  }

  /** A stream left the session: remembered as closed unless we reset it. */
  markClosed(id: number): void {
    if (!this.#reset.has(id)) this.#closed.add(id);
  }
  wasClosed(id: number): boolean {
    return this.#closed.has(id);
  }
}
