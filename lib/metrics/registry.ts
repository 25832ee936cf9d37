/**
 * A small, fast metrics registry: counter, gauge and histogram families (metric_family.ts, histogram.ts)
 * and callback gauges computed at scrape time (callback_gauge.ts), encoded in Prometheus 0.0.4 or
 * OpenMetrics 1.0 (exposition.ts).
 */
import { ZtError } from "../error.ts";
import { CallbackGauge, type CallbackGaugeOptions } from "./callback_gauge.ts";
import type { Encodable, MetricsFormat } from "./exposition.ts";
import { HistogramFamily, type HistogramOptions } from "./histogram.ts";
import { CounterFamily, type FamilyOptions, GaugeFamily } from "./metric_family.ts";

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The set of metric families one process exposes. Owned by the app and passed to whoever records. */
export class Registry {
  readonly #families = new Map<string, Encodable>();

  #add<T extends Encodable>(f: T): T {
    if (!NAME_RE.test(f.name)) throw new ZtError("metrics", `invalid metric name "${f.name}"`);
    if (this.#families.has(f.name)) {
      throw new ZtError("metrics", `metric "${f.name}" is already registered`);
    }
    this.#families.set(f.name, f);
    return f;
  }

  counter(opts: FamilyOptions): CounterFamily {
    const name = opts.name.endsWith("_total") ? opts.name.slice(0, -"_total".length) : opts.name;
    return this.#add(new CounterFamily({ ...opts, name }));
  }

  gauge(opts: FamilyOptions): GaugeFamily {
    return this.#add(new GaugeFamily(opts));
  }

  histogram(opts: HistogramOptions): HistogramFamily {
    return this.#add(new HistogramFamily(opts));
  }

  callbackGauge(opts: CallbackGaugeOptions): CallbackGauge {
    return this.#add(new CallbackGauge(opts));
  }

  /** Registered family names (counters without `_total`), in registration order. */
  names(): string[] {
    return [...this.#families.keys()];
  }

  encode(format: MetricsFormat = "prometheus"): string {
    const out: string[] = [];
    for (const f of this.#families.values()) f.encode(format, out);
    if (format === "openmetrics") out.push("# EOF");
    return out.length ? out.join("\n") + "\n" : "";
  }
}
