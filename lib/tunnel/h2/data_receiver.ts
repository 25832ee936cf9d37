/**
 * Received DATA (RFC 9113 §6.1, §6.9): charged against the connection and stream windows we advertised
 * (past them a FLOW_CONTROL_ERROR: connection or stream), checked against the stream's state and
 * content-length, its padding given back at once, its framing overhead and the receive buffer it keeps
 * alive budgeted, then handed to the stream.
 */
import { ErrorCode } from "./frame.ts";
import { H2Error } from "./h2_error.ts";
import type { H2Stream, StreamOwner } from "./stream.ts";
import type { BufferLease } from "./buffer_lease.ts";
import type { StreamIds } from "./stream_ids.ts";
import type { SessionBudgets } from "./session_budgets.ts";
import type { ConnectionWindow } from "./connection_window.ts";
import type { OutputGate } from "./output_gate.ts";
import type { StreamErrors } from "./stream_errors.ts";

/** A DATA piece viewing less than 1/PIN_RATIO of its receive buffer pins the whole buffer (budgeted). */
const PIN_RATIO = 4;

export class DataReceiver {
  /** Bytes of the DATA frame being received, so far (an empty frame is a zero-progress frame). */
  #frameData = 0;

  constructor(
    readonly owner: StreamOwner,
    readonly ids: StreamIds,
    readonly budgets: SessionBudgets,
    readonly window: ConnectionWindow,
    readonly gate: OutputGate,
    readonly errors: StreamErrors,
  ) {}

  /**
   * One piece of a DATA frame for stream `id` (`s`, if open): `flow` flow-controlled bytes, `last`
   * when it ends the frame, `lease` when the socket lends the buffer `data` views.
   */
  receive(
    s: H2Stream | undefined,
    id: number,
    data: Uint8Array,
    endStream: boolean,
    flow: number,
    last: boolean,
    lease: BufferLease | undefined,
  ): void {
    this.window.consume(flow);
    this.#frameData += data.length;
    if (last) {
      if (this.#frameData === 0 && !endStream) this.budgets.glitch("empty DATA frames");
      this.#frameData = 0;
    }
    if (s === undefined) {
      if (id === 0 || this.ids.isIdle(id)) {
        throw new H2Error(`DATA on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
      }
      this.#giveBack(flow); // nobody reads it
      if (!this.ids.wasReset(id)) this.errors.resetId(id, ErrorCode.STREAM_CLOSED); // else it raced our reset
      return;
    }
    if (s.remoteEnded) return this.#discard(s, flow, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    if (flow > s.recvWindow) {
      return this.#discard(s, flow, ErrorCode.FLOW_CONTROL_ERROR, "DATA past the stream window");
    }
    s.recvWindow -= flow;
    if (s.contentLength !== undefined) {
      s.dataReceived += data.length;
      if (s.dataReceived > s.contentLength || (endStream && s.dataReceived !== s.contentLength)) {
        return this.#discard(s, flow, ErrorCode.PROTOCOL_ERROR, "DATA does not match content-length");
      }
    }
    if (flow > data.length) this.owner.credit(s, flow - data.length); // padding
    const n = data.length;
    const charge = this.budgets.chargeData(n);
    // A piece much smaller than the buffer it views keeps the whole buffer alive until released:
    // budgeted per connection; past the budget such pieces are copied instead.
    let pinned = 0;
    if (n > 0 && n * PIN_RATIO < data.buffer.byteLength) {
      if (this.budgets.pin(data.buffer.byteLength)) pinned = data.buffer.byteLength;
      else {
        data = data.slice();
        lease = undefined;
      }
    }
    s.onData(data, endStream, lease, charge, pinned);
  }

  #giveBack(flow: number): void {
    const c = this.window.giveBack(flow);
    if (c) this.gate.write(c);
  }

  /** A stream error on DATA: the bytes are dropped (their connection window returned) and the stream reset. */
  #discard(stream: H2Stream, flow: number, code: number, why: string): void {
    this.#giveBack(flow);
    this.errors.reset(stream, code, why);
  }
}
