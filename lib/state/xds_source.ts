/**
 * istiod as the config source: a Delta ADS client subscribed to `istio.workload.Address` and
 * `istio.security.Authorization`, applying every push to the ProxyState through the state
 * handlers. `synced` settles once the first response of BOTH types has been ACKed (ztunnel's
 * "state manager" readiness), or with false when the source is closed first. Disconnects never
 * clear the state: the last known config keeps serving while the client reconnects.
 */
import type { Logger } from "../log/logger.ts";
import { AdsClient, type AdsMetrics } from "../xds/ads_client.ts";
import type { BidiChannel } from "../xds/grpc_channel.ts";
import type { ProxyState } from "./proxy_state.ts";
import { type PushOutcome, xdsStateHandlers } from "./xds_handlers.ts";

export interface XdsConfigSourceOptions {
  /** The channel to istiod; closed with the source when it has a `close()`. */
  readonly channel: BidiChannel & { close?(): void };
  readonly node: { readonly id: string; readonly metadata: Readonly<Record<string, unknown>> };
  readonly state: ProxyState;
  readonly log: Logger;
  readonly metrics?: AdsMetrics;
  readonly onPush?: (typeUrl: string, outcome: PushOutcome) => void;
}

export class XdsConfigSource {
  readonly client: AdsClient;
  readonly #opts: XdsConfigSourceOptions;
  readonly #pendingTypes: Set<string>;
  readonly #synced = Promise.withResolvers<boolean>();
  #closed = false;

  constructor(opts: XdsConfigSourceOptions) {
    this.#opts = opts;
    const handlers = xdsStateHandlers({ state: opts.state, log: opts.log, onPush: opts.onPush });
    this.#pendingTypes = new Set(handlers.map((h) => h.typeUrl));
    this.client = new AdsClient({
      channel: opts.channel,
      node: opts.node,
      handlers,
      log: opts.log,
      metrics: opts.metrics,
      onAcked: (typeUrl) => this.#acked(typeUrl),
    });
  }

  /** True once the first push of every type was ACKed; false if closed before. Never rejects. */
  get synced(): Promise<boolean> {
    return this.#synced.promise;
  }

  /** Type URLs whose first ACK is still outstanding. */
  get pendingTypes(): string[] {
    return [...this.#pendingTypes];
  }

  start(): void {
    this.#opts.log.info("connecting to xDS", { id: this.#opts.node.id });
    this.client.start();
  }

  #acked(typeUrl: string): void {
    if (!this.#pendingTypes.delete(typeUrl)) return;
    this.#opts.log.info("initial xDS sync received", { type_url: typeUrl, pending: this.#pendingTypes.size });
    if (this.#pendingTypes.size === 0) this.#synced.resolve(true);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#synced.resolve(false);
    await this.client.close();
    this.#opts.channel.close?.();
  }
}
