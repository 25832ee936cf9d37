/** Gauges whose samples are computed when scraped. */
import { type Encodable, encodeHeader, formatValue, type MetricsFormat, renderLabels } from "./exposition.ts";
import type { FamilyOptions } from "./metric_family.ts";

/** What a callback gauge reports at scrape: a single value, or label values → value pairs. */
export type GaugeSamples = number | Iterable<readonly [readonly string[], number]>;

export interface CallbackGaugeOptions extends FamilyOptions {
  /** Called on every scrape. Throwing or returning undefined yields no samples. */
  collect(): GaugeSamples | undefined;
}

/** A gauge whose samples are computed when scraped (open fds, RSS, cert expiry, ...). */
export class CallbackGauge implements Encodable {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly #collect: () => GaugeSamples | undefined;

  constructor(opts: CallbackGaugeOptions) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = [...(opts.labelNames ?? [])];
    this.#collect = opts.collect;
  }

  encode(format: MetricsFormat, out: string[]): void {
    encodeHeader(out, format, "gauge", this.name, this.help);
    let samples: GaugeSamples | undefined;
    try {
      samples = this.#collect();
    } catch {
      samples = undefined;
    }
    if (samples === undefined) return;
    if (typeof samples === "number") {
      if (this.labelNames.length === 0) out.push(`${this.name} ${formatValue(samples)}`);
      return;
    }
    for (const [values, v] of samples) {
      if (values.length !== this.labelNames.length) continue;
      out.push(`${this.name}${renderLabels(this.labelNames, values)} ${formatValue(v)}`);
    }
  }
}
