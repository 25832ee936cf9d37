/**
 * Istio's TCP traffic metrics, with exactly Istio's label set and order (ztunnel's
 * `CommonTrafficLabels`). Labels are resolved once per connection into a handle holding the
 * counter children, so byte accounting on the data path is a number add with no string work.
 *
 * Byte direction: `sent` is what the source (client) sent towards the destination, `recv` what the
 * source got back. Istio counts request bytes in `istio_tcp_received_bytes_total` and response bytes
 * in `istio_tcp_sent_bytes_total` for both reporters (the historical flip of istio/istio#32399), so
 * `sent` feeds received_bytes and `recv` feeds sent_bytes.
 */
import type { Counter, CounterFamily, GaugeFamily } from "./metric_family.ts";
import type { Registry } from "./registry.ts";
import {
  FLAGS_INDEX,
  type Reporter,
  TRAFFIC_LABEL_NAMES,
  type TrafficLabelsInput,
  trafficLabelValues,
  type WorkloadLike,
} from "./traffic_labels.ts";

/** The children a connection touches on the data path, resolved once. */
interface Series {
  readonly opened: Counter;
  readonly received: Counter;
  readonly sent: Counter;
}

/** One connection's resolved metric children. Create with `TrafficMetrics.labels`. */
export class TrafficLabelHandle {
  /** Bytes accounted so far (source's view). */
  sentBytes = 0;
  recvBytes = 0;
  isOpen = false;
  isClosed = false;
  constructor(
    readonly reporter: Reporter,
    readonly values: readonly string[],
    readonly series: Series,
  ) {}
}

function podKey(namespace: string | undefined, name: string | undefined): string | undefined {
  return name && namespace ? `pod:${namespace}/${name}` : undefined;
}

/** Which live workloads a series names, per side, and which flag variants of it exist. */
interface SeriesRefs {
  readonly values: readonly string[];
  /** Interned per flag variant: connections with equal labels share one values array and Series. */
  readonly shared: Map<string, { readonly values: readonly string[]; readonly series: Series }>;
  readonly src: Set<string>;
  readonly dst: Set<string>;
  readonly flags: Set<string>;
}

export class TrafficMetrics {
  readonly connectionsOpened: CounterFamily;
  readonly connectionsClosed: CounterFamily;
  readonly receivedBytes: CounterFamily;
  readonly sentBytes: CounterFamily;
  readonly connectionsFailed: CounterFamily;
  readonly socketsOpen: GaugeFamily;
  /** base key (values without flag) → refs */
  readonly #refs = new Map<string, SeriesRefs>();
  /** workload id → base keys naming it */
  readonly #byId = new Map<string, Set<string>>();
  /** `pod:ns/name` → `uid:...` and back, so a pod can be forgotten either way */
  readonly #alias = new Map<string, string>();
  readonly #podOf = new Map<string, string>();

  constructor(registry: Registry) {
    const labelNames = TRAFFIC_LABEL_NAMES;
    this.connectionsOpened = registry.counter({
      name: "istio_tcp_connections_opened",
      help: "The total number of TCP connections opened",
      labelNames,
    });
    this.connectionsClosed = registry.counter({
      name: "istio_tcp_connections_closed",
      help: "The total number of TCP connections closed",
      labelNames,
    });
    this.receivedBytes = registry.counter({
      name: "istio_tcp_received_bytes",
      help: "The size of total bytes received during request in case of a TCP connection",
      labelNames,
    });
    this.sentBytes = registry.counter({
      name: "istio_tcp_sent_bytes",
      help: "The size of total bytes sent during response in case of a TCP connection",
      labelNames,
    });
    this.connectionsFailed = registry.counter({
      name: "istio_tcp_connections_failed",
      help: "The total number of TCP connections that failed to establish",
      labelNames,
    });
    this.socketsOpen = registry.gauge({
      name: "istio_tcp_sockets_open",
      help: "The current number of open TCP sockets",
      labelNames: ["reporter"],
    });
  }

  #series(values: readonly string[]): Series {
    return {
      opened: this.connectionsOpened.labels(values),
      received: this.receivedBytes.labels(values),
      sent: this.sentBytes.labels(values),
    };
  }

  /** The workload's canonical id (`uid:` when it has a uid, else `pod:ns/name`). */
  #id(w: WorkloadLike | undefined): string | undefined {
    if (!w) return undefined;
    const pod = podKey(w.namespace, w.name);
    if (!w.uid) return pod;
    const id = `uid:${w.uid}`;
    if (pod && !this.#podOf.has(id)) {
      this.#podOf.set(id, pod);
      this.#alias.set(pod, id);
    }
    return id;
  }

  /** Records which workloads the series names; returns its refs (undefined: it names none). */
  #track(values: readonly string[], input: TrafficLabelsInput): SeriesRefs | undefined {
    const src = this.#id(input.source);
    const dst = this.#id(input.destination);
    if (!src && !dst) return undefined;
    const base = baseKey(values);
    let refs = this.#refs.get(base);
    if (!refs) {
      refs = { values, shared: new Map(), src: new Set(), dst: new Set(), flags: new Set() };
      this.#refs.set(base, refs);
    }
    refs.flags.add(values[FLAGS_INDEX]);
    for (const [side, id] of [[refs.src, src], [refs.dst, dst]] as const) {
      if (!id) continue;
      side.add(id);
      let set = this.#byId.get(id);
      if (!set) this.#byId.set(id, set = new Set());
      set.add(base);
    }
    return refs;
  }

  /**
   * Resolves a connection's labels once; keep the handle for the connection's lifetime. Handles with
   * equal labels share their values and counter children, so a connection costs one small object.
   */
  labels(input: TrafficLabelsInput): TrafficLabelHandle {
    const values = trafficLabelValues(input);
    const refs = this.#track(values, input);
    if (!refs) return new TrafficLabelHandle(input.reporter, values, this.#series(values));
    const flag = values[FLAGS_INDEX];
    let shared = refs.shared.get(flag);
    if (!shared) refs.shared.set(flag, shared = { values, series: this.#series(values) });
    return new TrafficLabelHandle(input.reporter, shared.values, shared.series);
  }

  /** Counts the connection as opened and its socket as open (once). */
  opened(h: TrafficLabelHandle): void {
    if (h.isOpen || h.isClosed) return;
    h.isOpen = true;
    h.series.opened.inc();
    this.socketsOpen.labels([h.reporter]).inc();
  }

  /** Adds bytes moved since the last call. `sent`: source → destination; `recv`: back to the source. */
  addBytes(h: TrafficLabelHandle, sent: number, recv: number): void {
    if (sent > 0) {
      h.sentBytes += sent;
      h.series.received.inc(sent);
    }
    if (recv > 0) {
      h.recvBytes += recv;
      h.series.sent.inc(recv);
    }
  }

  /**
   * Counts the close (once). `totals`, when given, are the connection's final byte totals; whatever
   * `addBytes` has not yet accounted is added. `responseFlags` labels the closed counter only.
   */
  closed(h: TrafficLabelHandle, totals?: { sent?: number; recv?: number; responseFlags?: string }): void {
    if (h.isClosed) return;
    h.isClosed = true;
    if (totals) {
      this.addBytes(
        h,
        (totals.sent ?? h.sentBytes) - h.sentBytes,
        (totals.recv ?? h.recvBytes) - h.recvBytes,
      );
    }
    this.connectionsClosed.labels(this.#withFlag(h, totals?.responseFlags)).inc();
    if (h.isOpen) this.socketsOpen.labels([h.reporter]).dec();
  }

  /**
   * Counts a failed connection, labelled with its response flag (`CONNECT` by default). An opened,
   * not yet closed connection is also closed with that flag (as ztunnel records a failure as a close),
   * so a later `closed()` is a no-op.
   */
  failed(h: TrafficLabelHandle, responseFlags = "CONNECT"): void {
    this.connectionsFailed.labels(this.#withFlag(h, responseFlags)).inc();
    if (h.isOpen && !h.isClosed) this.closed(h, { responseFlags });
  }

  /** The handle's label values with the response flag replaced (and remembered for removal). */
  #withFlag(h: TrafficLabelHandle, flag: string | undefined): readonly string[] {
    if (!flag || flag === h.values[FLAGS_INDEX]) return h.values;
    const values = [...h.values];
    values[FLAGS_INDEX] = flag;
    this.#refs.get(baseKey(h.values))?.flags.add(flag);
    return values;
  }

  /**
   * Drops every series naming a gone workload (by uid, or `{namespace, name}` of the pod), unless
   * another live workload with the same labels is also named on that side.
   */
  forgetWorkload(w: string | { uid?: string; name?: string; namespace?: string }): number {
    let id: string | undefined;
    if (typeof w === "string") id = `uid:${w}`;
    else if (w.uid) id = `uid:${w.uid}`;
    else {
      const pod = podKey(w.namespace, w.name);
      id = pod ? (this.#alias.get(pod) ?? pod) : undefined;
    }
    if (!id) return 0;
    const pod = this.#podOf.get(id);
    if (pod) this.#alias.delete(pod);
    this.#podOf.delete(id);
    const bases = this.#byId.get(id);
    this.#byId.delete(id);
    let dropped = 0;
    for (const base of bases ?? []) {
      const refs = this.#refs.get(base);
      if (!refs) continue;
      let gone = false;
      for (const side of [refs.src, refs.dst]) {
        if (side.delete(id) && side.size === 0) gone = true;
      }
      if (!gone) continue;
      this.#drop(refs);
      this.#refs.delete(base);
      for (const side of [refs.src, refs.dst]) {
        for (const other of side) this.#byId.get(other)?.delete(base);
      }
      dropped++;
    }
    return dropped;
  }

  #drop(refs: SeriesRefs): void {
    for (const flag of refs.flags) {
      const values = [...refs.values];
      values[FLAGS_INDEX] = flag;
      for (
        const f of [
          this.connectionsOpened,
          this.connectionsClosed,
          this.receivedBytes,
          this.sentBytes,
          this.connectionsFailed,
        ]
      ) {
        f.remove(values);
      }
    }
  }
}

function baseKey(values: readonly string[]): string {
  let k = "";
  for (let i = 0; i < values.length; i++) if (i !== FLAGS_INDEX) k += values[i] + "\u0000";
  return k;
}
