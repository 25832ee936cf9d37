/**
 * The text exposition formats, Prometheus 0.0.4 and OpenMetrics 1.0: content types, escaping, how
 * values, bucket bounds and label blocks are spelled, and the HELP/TYPE header of a family.
 */

export type MetricsFormat = "prometheus" | "openmetrics";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

export function contentTypeFor(format: MetricsFormat): string {
  return format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

export type MetricType = "counter" | "gauge" | "histogram";

/** A metric family as the registry holds it: a name and its lines in a format. */
export interface Encodable {
  readonly name: string;
  encode(format: MetricsFormat, out: string[]): void;
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`)) : v;
}

/** Escapes HELP text: backslash and newline (and, in OpenMetrics, double quote). */
export function escapeHelp(v: string, format: MetricsFormat): string {
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

/** A bucket bound as `le`: integers keep one decimal (`1.0`), as Prometheus client libraries print them. */
export function formatBound(v: number): string {
  if (v === Infinity) return "+Inf";
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

/** The `{name="value",...}` block of a label set; "" without labels. */
export function renderLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  let s = "{";
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += ",";
    s += `${names[i]}="${escapeLabelValue(values[i])}"`;
  }
  return s + "}";
}

/**
 * Pushes a family's HELP and TYPE lines and returns the name its samples carry: a counter's samples
 * end in `_total`, and so does its family name in Prometheus 0.0.4 (not in OpenMetrics).
 */
export function encodeHeader(
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
