/**
 * A generic Delta ADS client (envoy.service.discovery.v3.AggregatedDiscoveryService/
 * DeltaAggregatedResources) that behaves like ztunnel's `AdsClient`. It knows nothing of the
 * resource types: handlers registered per type URL decode and apply resource bodies and report
 * per-resource rejections, which become the NACK.
 *
 * - Stream start: one request per handler type with `node`, an empty (wildcard) subscription and
 *   `initial_resource_versions` = every resource held and accepted ({name: version}).
 * - Each response: ACK `{type_url, response_nonce}`, or NACK with
 *   `error_detail.message = "<name>: <reason>; ..."` (good resources in the push still apply).
 *   Unknown type URLs are logged and ACKed.
 * - Reconnects forever with ztunnel's backoff (reconnect_backoff.ts); state is never cleared on a
 *   disconnect, so the last known config keeps serving.
 */
import type { ClientDuplexStream, StatusObject } from "@grpc/grpc-js";
import { errorMessage } from "../error.ts";
import type { Logger } from "../log/logger.ts";
import type { BidiChannel } from "./grpc_channel.ts";
import {
  DELTA_ADS_METHOD,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  deltaRequestCodec,
  deltaResponseCodec,
  jsonToStruct,
  type Node,
} from "./proto.ts";
import { classifyStatus, ReconnectBackoff, type StreamEnd } from "./reconnect_backoff.ts";

/** One resource of a push, its body still encoded (the Any's value). */
export interface XdsResourceUpdate {
  readonly name: string;
  readonly version: string;
  readonly aliases: readonly string[];
  readonly body: Uint8Array;
}

export interface XdsHandler {
  readonly typeUrl: string;
  /**
   * Applies the resources and removals of one push. Returns per-resource rejections
   * (name → reason) for the NACK; must not throw for one bad resource.
   */
  apply(resources: readonly XdsResourceUpdate[], removed: readonly string[]): Map<string, string>;
}

/** ztunnel's `istio_xds_connection_terminations_total` reasons. */
export type TerminationReason = "ConnectionError" | "Error" | "Reconnect" | "Complete";

export interface AdsMetrics {
  /** One response of `bytes` on the wire (istio_xds_message_total / _bytes_total). */
  message?(typeUrl: string, bytes: number): void;
  connectionTerminated?(reason: TerminationReason): void;
}

export interface AdsClientOptions {
  readonly channel: BidiChannel;
  readonly node: { readonly id: string; readonly metadata: Readonly<Record<string, unknown>> };
  readonly handlers: readonly XdsHandler[];
  readonly log: Logger;
  /** Fires once per type, after the first ACK of a response of that type (readiness). */
  readonly onAcked?: (typeUrl: string) => void;
  readonly metrics?: AdsMetrics;
  /** Injectable for tests; resolves early when the signal aborts. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly backoff?: ReconnectBackoff;
}

type Sized = { readonly res: DeltaDiscoveryResponse; readonly bytes: number };

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

export class AdsClient {
  #opts: AdsClientOptions;
  #log: Logger;
  #handlers = new Map<string, XdsHandler>();
  /** type URL → name → version of every accepted resource held. */
  #known = new Map<string, Map<string, string>>();
  #acked = new Set<string>();
  #backoff: ReconnectBackoff;
  #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #abort = new AbortController();
  #stream: ClientDuplexStream<DeltaDiscoveryRequest, Sized> | undefined;
  #loop: Promise<void> | undefined;
  #connected = false;
  #connectionId = 0;

  constructor(opts: AdsClientOptions) {
    this.#opts = opts;
    this.#log = opts.log.child("xds");
    for (const h of opts.handlers) {
      this.#handlers.set(h.typeUrl, h);
      this.#known.set(h.typeUrl, new Map());
    }
    this.#backoff = opts.backoff ?? new ReconnectBackoff();
    this.#sleep = opts.sleep ?? defaultSleep;
  }

  /** True while a stream is established (response headers or a response received). */
  get connected(): boolean {
    return this.#connected;
  }

  /** How many streams have been attempted. */
  get connectionId(): number {
    return this.#connectionId;
  }

  /** The accepted resources held for a type (name → version), as sent on reconnect. */
  knownResources(typeUrl: string): ReadonlyMap<string, string> {
    return this.#known.get(typeUrl) ?? new Map();
  }

  start(): void {
    if (this.#loop || this.#abort.signal.aborted) return;
    this.#loop = this.#run();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    this.#stream?.cancel();
    await this.#loop;
    this.#connected = false;
  }

  async #run(): Promise<void> {
    const log = this.#log;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const id = ++this.#connectionId;
      const { end, reason, detail } = await this.#connectOnce(id);
      this.#connected = false;
      if (signal.aborted) break;
      const delay = this.#backoff.next(end);
      this.#opts.metrics?.connectionTerminated?.(reason);
      if (end === "error") log.warn(`XDS client error: ${detail}, retrying in ${delay}ms`, { id });
      else log.debug(`XDS client terminated: ${detail}, retrying in ${delay}ms`, { id });
      this.#opts.channel.reset();
      await this.#sleep(delay, signal);
    }
  }

  #initialRequest(typeUrl: string, node: Node): DeltaDiscoveryRequest {
    const known = this.#known.get(typeUrl) ?? new Map<string, string>();
    return {
      node,
      typeUrl,
      resourceNamesSubscribe: [],
      resourceNamesUnsubscribe: [],
      initialResourceVersions: Object.fromEntries(known),
    };
  }

  #connectOnce(id: number): Promise<{ end: StreamEnd; reason: TerminationReason; detail: string }> {
    const log = this.#log;
    return new Promise((resolve) => {
      let stream: ClientDuplexStream<DeltaDiscoveryRequest, Sized>;
      try {
        stream = this.#opts.channel.bidiStream<DeltaDiscoveryRequest, Sized>(
          DELTA_ADS_METHOD,
          (m) => deltaRequestCodec.encode(m),
          (b) => ({ res: deltaResponseCodec.decode(b), bytes: b.length }),
        );
      } catch (e) {
        resolve({ end: "error", reason: "ConnectionError", detail: errorMessage(e) });
        return;
      }
      this.#stream = stream;
      let established = false;
      const establish = () => {
        if (established) return;
        established = true;
        this.#connected = true;
        log.info("Stream established", { id });
      };
      stream.on("metadata", establish);
      stream.on("data", (msg: Sized) => {
        establish();
        this.#onResponse(msg, stream);
      });
      // Errors are reported (with their status) through "status" below.
      stream.on("error", () => {});
      stream.on("status", (st: StatusObject) => {
        this.#stream = undefined;
        const end = classifyStatus(st.code, st.details);
        const reason: TerminationReason = end === "complete"
          ? "Complete"
          : end === "reconnect"
          ? "Reconnect"
          : established
          ? "Error"
          : "ConnectionError";
        resolve({ end, reason, detail: `status ${st.code}: ${st.details}` });
      });
      const node: Node = { id: this.#opts.node.id, metadata: jsonToStruct(this.#opts.node.metadata) };
      for (const typeUrl of this.#handlers.keys()) {
        const req = this.#initialRequest(typeUrl, node);
        log.debug("sending initial request", {
          type_url: typeUrl,
          resources: Object.keys(req.initialResourceVersions ?? {}).length,
        });
        stream.write(req);
      }
    });
  }

  #onResponse(msg: Sized, stream: ClientDuplexStream<DeltaDiscoveryRequest, Sized>): void {
    const { res, bytes } = msg;
    const log = this.#log;
    const typeUrl = res.typeUrl;
    const removed = res.removedResources ?? [];
    this.#backoff.reset();
    this.#opts.metrics?.message?.(typeUrl, bytes);
    log.info("received response", { type_url: typeUrl, size: res.resources.length, removes: removed.length });
    const rejects = new Map<string, string>();
    const handler = this.#handlers.get(typeUrl);
    if (!handler) {
      log.error("unknown type", { type_url: typeUrl });
    } else {
      const updates: XdsResourceUpdate[] = [];
      for (const r of res.resources) {
        if (!r.resource) rejects.set(r.name, "XDS payload without resource");
        else {updates.push({
            name: r.name,
            version: r.version,
            aliases: r.aliases ?? [],
            body: r.resource.value,
          });}
      }
      try {
        for (const [name, reason] of handler.apply(updates, removed)) rejects.set(name, reason);
      } catch (e) {
        for (const u of updates) rejects.set(u.name, `handler failed: ${errorMessage(e)}`);
      }
      const known = this.#known.get(typeUrl)!;
      for (const name of removed) known.delete(name);
      for (const u of updates) {
        if (rejects.has(u.name)) known.delete(u.name);
        else known.set(u.name, u.version);
      }
    }
    const ack: DeltaDiscoveryRequest = { typeUrl, responseNonce: res.nonce };
    if (rejects.size > 0) {
      const message = [...rejects].map(([name, reason]) => `${name}: ${reason}`).join("; ");
      ack.errorDetail = { message };
      log.error("sending response", { type_url: typeUrl, nonce: res.nonce, type: "NACK", error: message });
    } else {
      log.debug("sending response", { type_url: typeUrl, nonce: res.nonce, type: "ACK" });
    }
    stream.write(ack);
    if (!ack.errorDetail && handler && !this.#acked.has(typeUrl)) {
      this.#acked.add(typeUrl);
      this.#opts.onAcked?.(typeUrl);
    }
  }
}
