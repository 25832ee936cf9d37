/**
 * A session's writes to its socket, with the output a peer can make us produce kept bounded.
 *
 * Everything goes to the socket at once; once the socket reports its queue over the high-water mark
 * (write() → false) until "drain", the gate is congested, and replies the peer's frames call for are
 * limited: at most one PING ACK and one SETTINGS ACK sit in the socket's queue (a later PING ACK
 * replaces the held one, later SETTINGS ACKs are counted and sent on drain; more than `maxQueuedAcks`
 * → ack_flood), and reply bytes (RST_STREAM, response HEADERS, ACKs) written while congested are
 * counted: past `replyHighWaterMark` reading is paused (socket.pause) until drain, past `replyLimit`
 * → write_flood. DATA and WINDOW_UPDATE are not replies: DATA is bounded by the peer's windows and
 * its writers wait for drain, WINDOW_UPDATEs by the data read. Reading is never paused for DATA
 * congestion alone: two ends that both stop reading while both write would deadlock.
 */
import { encodePing, encodeSettingsAck, FRAME_HEADER_SIZE } from "./frame.ts";
import { H2Violation } from "./h2_error.ts";
import type { H2Socket } from "./h2_socket.ts";

export interface OutputLimits {
  readonly maxQueuedAcks: number;
  readonly replyHighWaterMark: number;
  readonly replyLimit: number;
}

export class OutputGate {
  #needDrain = false;
  #drainWaiters: Array<() => void> = [];
  /** Reply bytes written since the socket last reported congestion. */
  #replyBytes = 0;
  #pingAckQueued = false;
  #heldPingAck: Uint8Array | undefined;
  #settingsAckQueued = false;
  #owedSettingsAcks = 0;
  #droppedPingAcks = 0;
  #paused = false;
  #closed = false;

  /** `violation`: a limit was passed (the session ends the connection). */
  constructor(
    readonly socket: H2Socket,
    readonly limits: OutputLimits,
    readonly violation: (v: H2Violation) => void,
  ) {}

  /** Reading is paused until the socket drains. */
  get paused(): boolean {
    return this.#paused;
  }
  get congested(): boolean {
    return this.#needDrain;
  }

  write(buf: Uint8Array, flushed?: () => void): void {
    if (this.#closed) return;
    if (!this.socket.write(buf, flushed)) this.#needDrain = true;
  }

  writeTwo(header: Uint8Array, payload: Uint8Array, flushed?: () => void): void {
    if (this.#closed) return;
    const s = this.socket;
    s.cork?.();
    s.write(header);
    if (!s.write(payload, flushed)) this.#needDrain = true;
    s.uncork?.();
  }

  /** A frame written because of the peer's frames (RST_STREAM, response HEADERS). */
  reply(frame: Uint8Array): void {
    const was = this.#needDrain;
    this.write(frame);
    if (was || this.#needDrain) this.#count(frame.length);
  }

  pingAck(opaque: Uint8Array): void {
    if (this.#needDrain && this.#pingAckQueued) {
      if (this.#heldPingAck !== undefined) this.#owe("PING ACKs", ++this.#droppedPingAcks);
      this.#heldPingAck = opaque.slice();
      return;
    }
    this.reply(encodePing(opaque, true));
    this.#pingAckQueued = this.#needDrain;
  }

  settingsAck(): void {
    if (this.#needDrain && this.#settingsAckQueued) {
      this.#owe("SETTINGS ACKs", ++this.#owedSettingsAcks);
      return;
    }
    this.reply(encodeSettingsAck());
    this.#settingsAckQueued = this.#needDrain;
  }

  /** Resolves on the next drain, or undefined when the socket is not congested. */
  drained(): Promise<void> | undefined {
    if (!this.#needDrain || this.#closed) return undefined;
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  /** The socket drained: owed ACKs go out, reading resumes. True if reading was paused. */
  onDrain(): boolean {
    this.#needDrain = false;
    this.#replyBytes = 0;
    this.#pingAckQueued = this.#settingsAckQueued = false;
    this.#droppedPingAcks = 0;
    const held = this.#heldPingAck;
    this.#heldPingAck = undefined;
    if (held !== undefined) this.pingAck(held);
    const owed = this.#owedSettingsAcks;
    this.#owedSettingsAcks = 0;
    if (owed > 0) {
      const acks = new Uint8Array(owed * FRAME_HEADER_SIZE);
      const one = encodeSettingsAck();
      for (let i = 0; i < owed; i++) acks.set(one, i * FRAME_HEADER_SIZE);
      this.reply(acks);
      this.#settingsAckQueued = this.#needDrain;
    }
    const wasPaused = this.#paused;
    if (wasPaused && !this.#needDrain) {
      this.#paused = false;
      this.socket.resume?.();
    }
    this.#wake();
    return wasPaused && !this.#paused;
  }

  close(): void {
    this.#closed = true;
    this.#heldPingAck = undefined;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  #owe(what: string, n: number): void {
    if (n > this.limits.maxQueuedAcks) {
      this.violation(
        new H2Violation(
          "ack_flood",
          `more than ${this.limits.maxQueuedAcks} ${what} owed to a peer that does not read`,
        ),
      );
    }
  }

  #count(n: number): void {
    this.#replyBytes += n;
    if (this.#replyBytes > this.limits.replyLimit) {
      this.violation(
        new H2Violation(
          "write_flood",
          `over ${this.limits.replyLimit} bytes of replies queued for a peer that does not read`,
        ),
      );
    } else if (this.#replyBytes > this.limits.replyHighWaterMark && !this.#paused && this.socket.pause) {
      this.#paused = true;
      this.socket.pause();
    }
  }
}
