/** Histograms: observations counted into fixed buckets (upper bounds, `le`), with their sum and count. */
import { ZtError } from "../error.ts";
import { escapeHelp, formatBound, formatValue, type MetricsFormat } from "./exposition.ts";
import { type FamilyOptions, MetricFamily } from "./metric_family.ts";

/** A histogram child: observations counted into fixed buckets (upper bounds, `le`), plus sum and count. */
export class Histogram {
  /** Non-cumulative count per bucket; the last slot is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly labelValues: readonly string[],
    readonly rendered: string,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }
  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

export interface HistogramOptions extends FamilyOptions {
  /** Bucket upper bounds, ascending; +Inf is implied. */
  readonly buckets: readonly number[];
  /** OpenMetrics `# UNIT` (the name must end with `_<unit>`), e.g. "seconds". */
  readonly unit?: string;
}

export class HistogramFamily extends MetricFamily<Histogram> {
  readonly type = "histogram" as const;
  readonly buckets: readonly number[];
  readonly unit?: string;
  readonly #les: readonly string[];

  constructor(opts: HistogramOptions) {
    super(opts);
    if (this.labelNames.includes("le")) {
      throw new ZtError("metrics", `${this.name}: "le" is not a label name`);
    }
    const b = [...opts.buckets];
    if (b.some((v, i) => !Number.isFinite(v) || (i > 0 && v <= b[i - 1]))) {
      throw new ZtError("metrics", `${this.name}: buckets must be finite and ascending`);
    }
    if (opts.unit !== undefined && !this.name.endsWith(`_${opts.unit}`)) {
      throw new ZtError(
        "metrics",
        `${this.name}: a metric with unit ${opts.unit} must end with _${opts.unit}`,
      );
    }
    this.buckets = b;
    this.unit = opts.unit;
    this.#les = [...b.map(formatBound), "+Inf"];
  }

  protected create(values: readonly string[], rendered: string): Histogram {
    return new Histogram(values, rendered, this.buckets);
  }

  override encode(format: MetricsFormat, out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help, format)}`);
    out.push(`# TYPE ${this.name} histogram`);
    if (format === "openmetrics" && this.unit) out.push(`# UNIT ${this.name} ${this.unit}`);
    for (const c of this.children()) this.encodeChild(c, this.name, out);
  }

  protected override encodeChild(c: Histogram, name: string, out: string[]): void {
    const inner = c.rendered === "" ? "" : c.rendered.slice(1, -1) + ",";
    let cum = 0;
    for (let i = 0; i < this.#les.length; i++) {
      cum += c.counts[i];
      out.push(`${name}_bucket{${inner}le="${this.#les[i]}"} ${cum}`);
    }
    out.push(`${name}_sum${c.rendered} ${formatValue(c.sum)}`);
    out.push(`${name}_count${c.rendered} ${c.count}`);
  }
}
