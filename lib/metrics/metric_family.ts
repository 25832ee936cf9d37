/**
 * A metric family with a fixed, ordered label-name list, and its counter and gauge children.
 *
 * Children are cached by their joined label values and pre-render their label block once, so the
 * hot path (`child.inc(n)`) is a number add and a scrape is string concatenation.
 */
import { ZtError } from "../error.ts";
import {
  type Encodable,
  encodeHeader,
  formatValue,
  type MetricsFormat,
  type MetricType,
  renderLabels,
} from "./exposition.ts";

export interface FamilyOptions {
  /** Metric name. For counters, without the `_total` suffix (a trailing `_total` is stripped). */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
}

/** A label set as a record, in label-name order (handed to `removeWhere` predicates). */
export type LabelSet = Readonly<Record<string, string>>;

/** What every child has: its label values and their pre-rendered block. */
export interface MetricChild {
  readonly labelValues: readonly string[];
  readonly rendered: string;
}

const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const KEY_SEP = "\u0000";

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

/** The children of one metric name, by label values; subclasses say what a child is and how it encodes. */
export abstract class MetricFamily<C extends MetricChild> implements Encodable {
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
    const sample = encodeHeader(out, format, this.type, this.name, this.help);
    for (const c of this.#children.values()) this.encodeChild(c, sample, out);
  }

  protected encodeChild(c: C, sample: string, out: string[]): void {
    out.push(`${sample}${c.rendered} ${formatValue((c as MetricChild as Counter | Gauge).value)}`);
  }
}

export class CounterFamily extends MetricFamily<Counter> {
  readonly type = "counter" as const;
  protected create(values: readonly string[], rendered: string): Counter {
    return new Counter(values, rendered);
  }
}

export class GaugeFamily extends MetricFamily<Gauge> {
  readonly type = "gauge" as const;
  protected create(values: readonly string[], rendered: string): Gauge {
    return new Gauge(values, rendered);
  }
}
