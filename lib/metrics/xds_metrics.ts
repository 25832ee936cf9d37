/** ztunnel's xDS client metrics: stream terminations by reason, messages and bytes by type URL. */
import type { CounterFamily } from "./metric_family.ts";
import type { Registry } from "./registry.ts";

/** Why an xDS stream ended, as ztunnel labels it. */
export type XdsTerminationReason = "ConnectionError" | "Error" | "Reconnect" | "Complete";

export class XdsMetrics {
  readonly terminations: CounterFamily;
  readonly messages: CounterFamily;
  readonly messageBytes: CounterFamily;

  constructor(registry: Registry) {
    this.terminations = registry.counter({
      name: "istio_xds_connection_terminations",
      help: "The total number of completed connections to xds server (unstable)",
      labelNames: ["reason"],
    });
    this.messages = registry.counter({
      name: "istio_xds_message",
      help: "Total number of messages received (unstable)",
      labelNames: ["url"],
    });
    this.messageBytes = registry.counter({
      name: "istio_xds_message_bytes",
      help: "Total number of bytes received (unstable)",
      labelNames: ["url"],
    });
  }

  terminated(reason: XdsTerminationReason): void {
    this.terminations.labels([reason]).inc();
  }

  /** Records one received DiscoveryResponse of `bytes` encoded bytes for `typeUrl`. */
  received(typeUrl: string, bytes: number): void {
    this.messages.labels([typeUrl]).inc();
    this.messageBytes.labels([typeUrl]).inc(bytes);
  }
}
