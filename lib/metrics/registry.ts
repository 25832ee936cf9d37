/**
 * A small, fast metrics registry: counter, gauge and histogram families with a fixed, ordered label-name
 * list, callback gauges computed at scrape time, and text encoding in Prometheus 0.0.4 or OpenMetrics 1.0.
 *
 * Children are cached by their joined label values and pre-render their label block once, so the
 * hot path (`child.inc(n)`) is a number add and a scrape is string concatenation.
 */
import { ZtError } from "../error.ts";

export type MetricsFormat = "prometheus" | "openmetrics";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

export function contentTypeFor(format: MetricsFormat): string {
  return format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

export interface FamilyOptions {
  /** Metric name. For counters, without the `_total` suffix (a trailing `_total` is stripped). */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
}

/** A label set as a record, in label-name order (handed to `removeWhere` predicates). */
export type LabelSet = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const KEY_SEP = "\u0000";

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`)) : v;
}

function escapeHelp(v: string, format: MetricsFormat): string {
  const re = format === "openmetrics" ? /[\\"\n]/g : /[\\\n]/g;
  return v.replace(re, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** Renders a sample value: integers plainly, NaN and infinities in exposition spelling. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function renderLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  let s = "{";
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += ",";
    s += `${names[i]}="${escapeLabelValue(values[i])}"`;
  }
  return s + "}";
}

/** A counter child: only goes up. */
export class Counter {
  value = 0;
  constructor(readonly labelValues: readonly string[], readonly rendered: string) {}
  inc(n = 1): void {
    if (n < 0) throw new ZtError("metrics", `counter cannot decrease (inc by ${n})`);
    this.value += n;
  }
}

/** A gauge child: set, or moved up and down. */
export class Gauge {
  value = 0;
  constructor(readonly labelValues: readonly string[], readonly rendered: string) {}
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

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

type MetricType = "counter" | "gauge" | "histogram";

interface Encodable {
  readonly name: string;
  encode(format: MetricsFormat, out: string[]): void;
}

function header(
  out: string[],
  format: MetricsFormat,
  type: MetricType,
  name: string,
  help: string,
): string {
  const sampleName = type === "counter" ? `${name}_total` : name;
  const familyName = type === "counter" && format === "prometheus" ? sampleName : name;
  out.push(`# HELP ${familyName} ${escapeHelp(help, format)}`);
  out.push(`# TYPE ${familyName} ${type}`);
  return sampleName;
}

abstract class Family<C extends Counter | Gauge | Histogram> implements Encodable {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly #children = new Map<string, C>();
  abstract readonly type: MetricType;

  constructor(opts: FamilyOptions) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = [...(opts.labelNames ?? [])];
    for (const l of this.labelNames) {
      if (!LABEL_RE.test(l)) throw new ZtError("metrics", `invalid label name "${l}" in ${this.name}`);
    }
  }

  protected abstract create(values: readonly string[], rendered: string): C;

  #key(values: readonly string[]): string {
    if (values.length !== this.labelNames.length) {
      throw new ZtError(
        "metrics",
        `${this.name} takes ${this.labelNames.length} label values (${
          this.labelNames.join(", ")
        }), got ${values.length}`,
      );
    }
    return values.join(KEY_SEP);
  }

  /** The child for these label values (in label-name order), created on first use. */
  labels(values: readonly string[] = []): C {
    const key = this.#key(values);
    let child = this.#children.get(key);
    if (!child) {
      const copy = Object.freeze([...values]);
      child = this.create(copy, renderLabels(this.labelNames, copy));
      this.#children.set(key, child);
    }
    return child;
  }

  /** The child if it exists, without creating it. */
  get(values: readonly string[] = []): C | undefined {
    return this.#children.get(this.#key(values));
  }

  remove(values: readonly string[]): boolean {
    return this.#children.delete(this.#key(values));
  }

  /** Drops every child whose label set matches; returns how many were dropped. */
  removeWhere(pred: (labels: LabelSet, values: readonly string[]) => boolean): number {
    let n = 0;
    for (const [key, child] of this.#children) {
      if (pred(this.#labelSet(child.labelValues), child.labelValues)) {
        this.#children.delete(key);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#children.clear();
  }

  get size(): number {
    return this.#children.size;
  }

  children(): IterableIterator<C> {
    return this.#children.values();
  }

  #labelSet(values: readonly string[]): LabelSet {
    const o: Record<string, string> = {};
    for (let i = 0; i < this.labelNames.length; i++) o[this.labelNames[i]] = values[i];
    return o;
  }

  encode(format: MetricsFormat, out: string[]): void {
    const sample = header(out, format, this.type, this.name, this.help);
    for (const c of this.#children.values()) this.encodeChild(c, sample, out);
  }

  protected encodeChild(c: C, sample: string, out: string[]): void {
    out.push(`${sample}${c.rendered} ${formatValue((c as Counter | Gauge).value)}`);
  }
}

export class CounterFamily extends Family<Counter> {
  readonly type = "counter" as const;
  protected create(values: readonly string[], rendered: string): Counter {
    return new Counter(values, rendered);
  }
}

export class GaugeFamily extends Family<Gauge> {
  readonly type = "gauge" as const;
  protected create(values: readonly string[], rendered: string): Gauge {
    return new Gauge(values, rendered);
  }
}

export interface HistogramOptions extends FamilyOptions {
  /** Bucket upper bounds, ascending; +Inf is implied. */
  readonly buckets: readonly number[];
  /** OpenMetrics `# UNIT` (the name must end with `_<unit>`), e.g. "seconds". */
  readonly unit?: string;
}

/** A bucket bound as `le`: integers keep one decimal (`1.0`), as Prometheus client libraries print them. */
export function formatBound(v: number): string {
  if (v === Infinity) return "+Inf";
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

export class HistogramFamily extends Family<Histogram> {
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
    header(out, format, "gauge", this.name, this.help);
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
