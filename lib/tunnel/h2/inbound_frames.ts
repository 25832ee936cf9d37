/**
 * What the peer sends, frame by frame (RFC 9113 §5-§6), for one H2Session: the frame parser and
 * HPACK decoder, flow control and budgets on receipt, stream states, and new server streams, which
 * are handed over only once the whole read chunk that opened them has been parsed (so a stream reset
 * in the same chunk never reaches the application). Connection errors are thrown as H2Error for the
 * session to answer with GOAWAY; stream errors are answered here with RST_STREAM.
 */
import { ErrorCode, Flag, FrameType, MAX_WINDOW_SIZE, readUint32 } from "./frame.ts";
import { FrameParser } from "./frame_parser.ts";
import { HpackDecoder } from "./hpack.ts";
import { H2Error } from "./h2_error.ts";
import { H2Stream, type StreamOwner } from "./stream.ts";
import type { BufferLease } from "./buffer_lease.ts";
import type { H2Limits } from "./h2_options.ts";
import { type HeaderBlock, HeaderBlockAssembler } from "./header_block.ts";
import { decideNewStream, decideOnOpen, type HeaderDecision } from "./header_decisions.ts";
import { checkFrame } from "./frame_rules.ts";
import type { OutputGate } from "./output_gate.ts";
import type { StreamIds } from "./stream_ids.ts";
import type { SessionBudgets } from "./session_budgets.ts";
import type { ConnectionWindow } from "./connection_window.ts";
import type { PeerSettings } from "./peer_settings.ts";
import { StreamErrors } from "./stream_errors.ts";
import { DataReceiver } from "./data_receiver.ts";

/** WINDOW_UPDATE increments under this count as zero-progress frames. */
const SMALL_INCREMENT = 1024;

/** What the frame handlers need from their session. */
export interface InboundHost {
  /** The session, as its streams' owner (credit, sendRst, ...). */
  readonly owner: StreamOwner;
  readonly streams: Map<number, H2Stream>;
  isClosed(): boolean;
  /** We sent GOAWAY: new streams are refused. */
  isGoingAway(): boolean;
  /** The peer's first SETTINGS arrived (its preface is complete). */
  firstSettings(): void;
  /** A PING ACK: true if it answers our keepalive PING. */
  keepaliveAck(opaque: Uint8Array): boolean;
  /** A client stream got its response headers. */
  responded(stream: H2Stream): void;
  /** The peer's GOAWAY. */
  goawayReceived(lastStreamId: number, code: number): void;
}

/** The session's parts the frame handlers share with it. */
export interface InboundParts {
  readonly limits: H2Limits;
  readonly ids: StreamIds;
  readonly budgets: SessionBudgets;
  readonly window: ConnectionWindow;
  readonly settings: PeerSettings;
  readonly gate: OutputGate;
}

export class InboundFrames {
  readonly #host: InboundHost;
  readonly #ids: StreamIds;
  readonly #budgets: SessionBudgets;
  readonly #window: ConnectionWindow;
  readonly #settings: PeerSettings;
  readonly #gate: OutputGate;
  readonly #maxConcurrentStreams: number;
  readonly #parser: FrameParser;
  readonly #decoder: HpackDecoder;
  readonly #blocks: HeaderBlockAssembler;
  readonly #errors: StreamErrors;
  readonly #data: DataReceiver;
  /** The lease of the chunk being parsed, when the socket lends its buffers. */
  #lease: BufferLease | undefined;
  /** Server streams opened by the chunk being parsed. */
  #newStreams: H2Stream[] = [];
  #userPings = 0;
  #goawayReceived = false;

  constructor(host: InboundHost, parts: InboundParts) {
    this.#host = host;
    this.#ids = parts.ids;
    this.#budgets = parts.budgets;
    this.#window = parts.window;
    this.#settings = parts.settings;
    this.#gate = parts.gate;
    this.#errors = new StreamErrors(host.owner, parts.budgets);
    this.#data = new DataReceiver(
      host.owner,
      parts.ids,
      parts.budgets,
      parts.window,
      parts.gate,
      this.#errors,
    );
    const limits = parts.limits;
    this.#maxConcurrentStreams = limits.maxConcurrentStreams;
    this.#decoder = new HpackDecoder(4096, limits.maxHeaderListSize);
    this.#blocks = new HeaderBlockAssembler(limits.maxHeaderBlockSize, limits.maxContinuationFrames);
    this.#parser = new FrameParser({
      onFrame: (t, f, id, p) => this.#onFrame(t, f, id, p),
      onData: (id, d, e, fb, last) => this.#onData(id, d, e, fb, last),
    }, limits.maxFrameSize);
    if (parts.ids.role === "server") this.#parser.expectPreface();
  }

  /** Parses one read chunk (throws H2Error on a connection error); returns the streams it opened. */
  push(chunk: Uint8Array, lease: BufferLease | undefined): H2Stream[] {
    this.#lease = lease;
    try {
      this.#parser.push(chunk);
    } finally {
      this.#lease = undefined;
    }
    const fresh = this.#newStreams;
    if (fresh.length > 0) this.#newStreams = [];
    return fresh;
  }

  /** We sent a PING of zeros (H2Session.ping): its ACK is expected. */
  expectPingAck(): void {
    this.#userPings++;
  }

  #onData(id: number, data: Uint8Array, endStream: boolean, flow: number, last: boolean): void {
    if (this.#host.isClosed()) return;
    if (this.#settings.awaitingFirst || this.#blocks.open) {
      throw new H2Error("DATA before SETTINGS or inside a header block", ErrorCode.PROTOCOL_ERROR);
    }
    this.#data.receive(this.#host.streams.get(id), id, data, endStream, flow, last, this.#lease);
  }

  #onFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.#host.isClosed()) return;
    if (this.#settings.awaitingFirst && (type !== FrameType.SETTINGS || flags & Flag.ACK)) {
      throw new H2Error("the first frame must be SETTINGS", ErrorCode.PROTOCOL_ERROR);
    }
    if (this.#blocks.open && type !== FrameType.CONTINUATION) {
      throw new H2Error("expected CONTINUATION", ErrorCode.PROTOCOL_ERROR);
    }
    checkFrame(type, flags, id, payload.length);
    switch (type) {
      case FrameType.HEADERS:
        return this.#onHeaderBlock(this.#blocks.headers(id, flags, payload));
      case FrameType.CONTINUATION:
        return this.#onHeaderBlock(this.#blocks.continuation(id, flags, payload));
      case FrameType.SETTINGS:
        return this.#onSettings(flags, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(id, readUint32(payload, 0) & MAX_WINDOW_SIZE);
      case FrameType.PING:
        return this.#onPing(flags, payload);
      case FrameType.RST_STREAM:
        return this.#onRst(id, readUint32(payload, 0));
      case FrameType.GOAWAY:
        return this.#onGoaway(readUint32(payload, 0) & MAX_WINDOW_SIZE, readUint32(payload, 4));
      case FrameType.PRIORITY:
        return this.#onPriority(id, payload);
      default:
        return this.#budgets.glitch("frames of unknown types");
    }
  }

  #onHeaderBlock(b: HeaderBlock | undefined): void {
    if (b === undefined) return; // CONTINUATION frames follow
    const headers = this.#decoder.decode(b.block);
    if (this.#decoder.sizeUpdates > 0) {
      this.#budgets.glitch("HPACK table size updates", this.#decoder.sizeUpdates);
    }
    const id = b.streamId;
    const endStream = (b.flags & Flag.END_STREAM) !== 0;
    const s = this.#host.streams.get(id);
    const d: HeaderDecision = s
      ? decideOnOpen(
        {
          awaitingResponse: s.responseResolve !== undefined,
          remoteEnded: s.remoteEnded,
          contentLength: s.contentLength,
          dataReceived: s.dataReceived,
        },
        headers,
        endStream,
      )
      : decideNewStream(
        {
          ids: this.#ids,
          goingAway: this.#host.isGoingAway(),
          openStreams: this.#host.streams.size,
          maxConcurrentStreams: this.#maxConcurrentStreams,
        },
        id,
        headers,
        endStream,
        b.dependsOn,
      );
    if (s === undefined && this.#ids.isPeerId(id) && this.#ids.isIdle(id)) this.#ids.opened(id);
    switch (d.kind) {
      case "open": {
        const n = new H2Stream(
          id,
          this.#host.owner,
          this.#settings.initialWindow,
          this.#settings.recvInitialWindow,
        );
        n.requestHeaders = headers;
        n.contentLength = d.contentLength;
        this.#host.streams.set(id, n);
        if (endStream) n.onRemoteEnd();
        this.#newStreams.push(n);
        return;
      }
      case "response": {
        const resolve = s!.responseResolve!;
        s!.responseResolve = undefined;
        this.#host.responded(s!);
        s!.contentLength = d.contentLength;
        resolve(headers);
        if (endStream) s!.onRemoteEnd();
        return;
      }
      case "trailers":
        return s!.onRemoteEnd();
      case "informational":
        return;
      case "ignore":
        return this.#budgets.glitch("HEADERS on reset streams");
      case "refuse":
        this.#budgets.glitch("refused streams");
        return this.#host.owner.sendRst(id, ErrorCode.REFUSED_STREAM);
      case "stream_error":
        return s ? this.#errors.reset(s, d.code, d.why) : this.#errors.resetId(id, d.code);
    }
  }

  #onSettings(flags: number, payload: Uint8Array): void {
    if (flags & Flag.ACK) {
      if (!this.#settings.acked(this.#host.streams.values())) {
        this.#budgets.glitch("unsolicited SETTINGS ACKs");
      }
      return;
    }
    const first = this.#settings.awaitingFirst;
    this.#settings.apply(payload, this.#host.streams.values());
    if (first) this.#host.firstSettings();
    else this.#budgets.glitch("SETTINGS frames");
    this.#gate.settingsAck();
  }

  #onWindowUpdate(id: number, inc: number): void {
    if (id === 0) {
      if (inc === 0) throw new H2Error("zero WINDOW_UPDATE", ErrorCode.PROTOCOL_ERROR);
      if (inc < SMALL_INCREMENT) this.#budgets.glitch("tiny WINDOW_UPDATEs");
      return this.#window.onUpdate(inc);
    }
    if (this.#ids.isIdle(id)) {
      throw new H2Error(`WINDOW_UPDATE on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
    }
    const s = this.#host.streams.get(id);
    if (inc === 0) {
      return s
        ? this.#errors.reset(s, ErrorCode.PROTOCOL_ERROR, "zero WINDOW_UPDATE")
        : this.#errors.resetId(id, ErrorCode.PROTOCOL_ERROR);
    }
    if (s === undefined) return; // closed: the update raced its end
    if (s.sendWindow + inc > MAX_WINDOW_SIZE) {
      return this.#errors.reset(s, ErrorCode.FLOW_CONTROL_ERROR, "stream window past 2^31-1");
    }
    if (inc < SMALL_INCREMENT) this.#budgets.glitch("tiny WINDOW_UPDATEs");
    s.onWindowUpdate(inc);
  }

  #onPing(flags: number, payload: Uint8Array): void {
    if (!(flags & Flag.ACK)) {
      this.#budgets.glitch("PING frames");
      return this.#gate.pingAck(payload);
    }
    if (this.#host.keepaliveAck(payload)) return;
    if (this.#userPings > 0 && payload.every((b) => b === 0)) this.#userPings--;
    else this.#budgets.glitch("unsolicited PING ACKs");
  }

  #onRst(id: number, code: number): void {
    if (this.#ids.isIdle(id)) throw new H2Error(`RST_STREAM on idle stream ${id}`, ErrorCode.PROTOCOL_ERROR);
    const s = this.#host.streams.get(id);
    if (s === undefined) return;
    const unanswered = this.#ids.role === "server" ? !s.answered : s.responseResolve !== undefined;
    if (this.#ids.role === "server" && unanswered) {
      if (!s.dispatched) this.#budgets.glitch("streams reset before they were handed over");
      else {
        s.resetUnanswered = true;
        this.#budgets.resetBeforeAnswer();
      }
    }
    // A reset before the tunnel was set up cancels it whatever the code; after, NO_ERROR and
    // CANCEL end the stream cleanly once its data is read (ztunnel's reading).
    s.onPeerReset(code, unanswered);
  }

  #onPriority(id: number, payload: Uint8Array): void {
    const s = this.#host.streams.get(id);
    const why = payload.length !== 5
      ? "PRIORITY of the wrong size"
      : (readUint32(payload, 0) & MAX_WINDOW_SIZE) === id
      ? "stream depends on itself"
      : undefined;
    if (why === undefined) return this.#budgets.glitch("PRIORITY frames");
    const code = payload.length !== 5 ? ErrorCode.FRAME_SIZE_ERROR : ErrorCode.PROTOCOL_ERROR;
    if (s) return this.#errors.reset(s, code, why);
    throw new H2Error(why, code);
  }

  #onGoaway(last: number, code: number): void {
    if (this.#goawayReceived) this.#budgets.glitch("GOAWAY frames");
    this.#goawayReceived = true;
    this.#host.goawayReceived(last, code);
  }
}
