/**
 * The last few stream ids of one kind (e.g. "we reset it", "it closed"), in a fixed ring: a session
 * remembers recent streams to tell a frame that raced a reset (ignored) from one on a stream the peer
 * knows is closed (an error), without keeping every id of a long-lived connection.
 */
export class StreamIdRing {
  #ids: Int32Array;
  #next = 0;

  constructor(size = 64) {
    this.#ids = new Int32Array(size);
  }

  add(id: number): void {
    this.#ids[this.#next] = id;
    this.#next = (this.#next + 1) % this.#ids.length;
  }

  has(id: number): boolean {
    return id !== 0 && this.#ids.includes(id);
  }
}
