/**
 * Strict readers for untyped (YAML/JSON) input: each failure is a `ZtError("config")` whose message
 * starts with the field path, e.g. `policies[2].rules[0][0][1].sourceIps[0]: invalid CIDR "10.0.0.300/8"`.
 */
import { ZtError } from "../error.ts";

export type Fields = Readonly<Record<string, unknown>>;

export function fail(path: string, message: string): never {
  throw new ZtError("config", path ? `${path}: ${message}` : message);
}

export function describe(raw: unknown): string {
  if (raw === undefined) return "nothing (the field is missing)";
  if (raw === null) return "null";
  if (Array.isArray(raw)) return "a list";
  return typeof raw === "object" ? "a mapping" : `${typeof raw} ${JSON.stringify(raw)}`;
}

export function isFields(raw: unknown): raw is Fields {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw);
}

export function asFields(raw: unknown, path: string): Fields {
  if (!isFields(raw)) fail(path, `expected a mapping, found ${describe(raw)}`);
  return raw;
}

/** Rejects keys outside `allowed`, naming the first unknown one. */
export function checkKeys(obj: Fields, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      fail(path, `unknown field ${JSON.stringify(k)} (expected one of: ${allowed.join(", ")})`);
    }
  }
}

export function asList(raw: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(raw)) fail(path, `expected a list, found ${describe(raw)}`);
  return raw;
}

/** A list, or [] when the field is absent or null. */
export function optList(raw: unknown, path: string): readonly unknown[] {
  return raw === undefined || raw === null ? [] : asList(raw, path);
}

export function asString(raw: unknown, path: string): string {
  if (typeof raw !== "string") fail(path, `expected a string, found ${describe(raw)}`);
  return raw;
}

export function optStringList(raw: unknown, path: string): string[] {
  return optList(raw, path).map((v, i) => asString(v, `${path}[${i}]`));
}

export function asBool(raw: unknown, path: string): boolean {
  if (typeof raw !== "boolean") fail(path, `expected true or false, found ${describe(raw)}`);
  return raw;
}

/** A port 0..65535 as an integer (or, leniently, a string of digits). */
export function asPort(raw: unknown, path: string): number {
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
    fail(path, `invalid port ${JSON.stringify(raw)} (expected 0 to 65535)`);
  }
  return n;
}

/** `{k: v}` with string keys and values; YAML numbers/bools as values are refused like Kubernetes does. */
export function asStringMap(raw: unknown, path: string): Record<string, string> {
  const obj = asFields(raw, path);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = asString(v, `${path}.${k}`);
  return out;
}
