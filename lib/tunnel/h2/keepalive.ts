/**
 * HTTP/2 PING keepalive as ztunnel runs it on both ends of HBONE: wait `intervalMs`, send a PING,
 * wait up to `timeoutMs` for its ACK (else the peer is dead or frozen: `onTimeout`), repeat. One timer
 * at a time; `stop()` clears it.
 */
export class Keepalive {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #outstanding: Uint8Array | undefined;
  #seq = 0;
  #stopped = false;

  constructor(
    readonly intervalMs: number,
    readonly timeoutMs: number,
    readonly sendPing: (opaque: Uint8Array) => void,
    readonly onTimeout: () => void,
  ) {}

  start(): void {
    if (this.intervalMs > 0) this.#arm(this.intervalMs, () => this.#ping());
  }

  /** A PING ACK arrived; true if it answers our outstanding PING. */
  onAck(opaque: Uint8Array): boolean {
    const o = this.#outstanding;
    if (o === undefined || !sameBytes(o, opaque)) return false;
    this.#outstanding = undefined;
    this.#arm(this.intervalMs, () => this.#ping());
    return true;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #ping(): void {
    const opaque = new Uint8Array(8);
    opaque.set([0x7a, 0x74, 0x6b, 0x61]); // "ztka"
    new DataView(opaque.buffer).setUint32(4, ++this.#seq);
    this.#outstanding = opaque;
    this.#arm(this.timeoutMs, () => this.onTimeout());
    this.sendPing(opaque);
  }

  #arm(ms: number, fn: () => void): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      fn();
    }, ms);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
