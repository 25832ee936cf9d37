/**
 * Strict readers for the local config file's YAML values. Every reader takes `at`, the located field
 * path (`config.yaml: workloads[1].workloadIps[0]`), and throws `ZtError("config", "<at>: <problem>")`.
 */
import { ZtError } from "../error.ts";
import { canonicalIp, ipFamily } from "./ip.ts";
import type { GatewayAddress, NetworkCidr, PortMap } from "./types.ts";

export function configError(at: string, message: string): ZtError {
  return new ZtError("config", `${at}: ${message}`);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A mapping whose keys are all in `allowed`. */
export function expectFields(v: unknown, at: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isMapping(v)) throw configError(at, `expected a mapping, got ${describe(v)}`);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw configError(at, `unknown field "${k}"`);
  }
  return v;
}

export function expectString(v: unknown, at: string): string {
  if (typeof v !== "string") throw configError(at, `expected a string, got ${describe(v)}`);
  return v;
}

export function expectBool(v: unknown, at: string): boolean {
  if (typeof v !== "boolean") throw configError(at, `expected true or false, got ${describe(v)}`);
  return v;
}

export function expectInt(v: unknown, at: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw configError(at, `expected an integer in ${min}..${max}, got ${describe(v)}`);
  }
  return v;
}

export function expectList(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw configError(at, `expected a list, got ${describe(v)}`);
  return v;
}

export function expectStringList(v: unknown, at: string): string[] {
  return expectList(v, at).map((x, i) => expectString(x, `${at}[${i}]`));
}

export function expectEnum<T extends string>(v: unknown, at: string, values: readonly T[]): T {
  const s = expectString(v, at);
  if (!(values as readonly string[]).includes(s)) {
    throw configError(at, `invalid value "${s}" (expected one of ${values.join(", ")})`);
  }
  return s as T;
}

/** `labels`/`annotations`: string → string. */
export function expectStringMap(v: unknown, at: string): Record<string, string> {
  if (!isMapping(v)) throw configError(at, `expected a mapping, got ${describe(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = expectString(x, `${at}.${k}`);
  return out;
}

/** An absolute file path without control characters (it reaches command lines: nsenter --net=PATH). */
export function expectAbsolutePath(v: unknown, at: string): string {
  const s = expectString(v, at);
  // deno-lint-ignore no-control-regex
  if (!s.startsWith("/") || /[\x00-\x1f\x7f]/.test(s)) {
    throw configError(at, `expected an absolute path, got ${JSON.stringify(s)}`);
  }
  return s;
}

/** A field that must be present. */
export function required(obj: Record<string, unknown>, key: string, at: string): unknown {
  if (obj[key] === undefined || obj[key] === null) throw configError(at, `missing required field "${key}"`);
  return obj[key];
}

export function expectIp(v: unknown, at: string): string {
  const s = expectString(v, at);
  const ip = canonicalIp(s);
  if (ip === undefined) throw configError(at, `invalid IP "${s}"`);
  return ip;
}

function portKey(k: string, at: string): number {
  if (!/^[0-9]+$/.test(k) || Number(k) < 1 || Number(k) > 65535) {
    throw configError(at, `key "${k}" is not a port number`);
  }
  return Number(k);
}

/** `{svcPort: targetPort}`; service ports 1–65535, targets 0–65535 (0 = named port, unresolved). */
export function expectPortMap(v: unknown, at: string): PortMap {
  if (!isMapping(v)) throw configError(at, `expected a mapping of port numbers, got ${describe(v)}`);
  const out = new Map<number, number>();
  for (const [k, x] of Object.entries(v)) out.set(portKey(k, at), expectInt(x, `${at}.${k}`, 0, 65535));
  return out;
}

/** `network/ip`, `network/ip/len` (with `allowCidr`), or a bare IP on the default network. */
export function expectNetworkAddress(v: unknown, at: string, allowCidr: boolean): NetworkCidr {
  const s = expectString(v, at);
  const slash = s.indexOf("/");
  const network = slash < 0 ? "" : s.slice(0, slash);
  const rest = slash < 0 ? s : s.slice(slash + 1);
  const [ipText, lenText, extra] = rest.split("/");
  const address = canonicalIp(ipText);
  if (address === undefined || extra !== undefined) {
    throw configError(at, `invalid address "${s}" (expected network/ip)`);
  }
  if (lenText === undefined) return { network, address };
  const max = ipFamily(address) === 4 ? 32 : 128;
  if (!allowCidr || !/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > max) {
    throw configError(
      at,
      `invalid address "${s}" (expected network/ip${allowCidr ? " or network/ip/length" : ""})`,
    );
  }
  return { network, address, length: Number(lenText) };
}

/** `{destination: "network/ip" | "ns/hostname", hboneMtlsPort}` (port defaults to 15008). */
export function expectGateway(v: unknown, at: string): GatewayAddress {
  const o = expectFields(v, at, ["destination", "hboneMtlsPort"]);
  const dest = expectString(required(o, "destination", at), `${at}.destination`);
  const hboneMtlsPort = o.hboneMtlsPort === undefined
    ? 15008
    : expectInt(o.hboneMtlsPort, `${at}.hboneMtlsPort`, 1, 65535);
  return { destination: parseGatewayDestination(dest, `${at}.destination`), hboneMtlsPort };
}

function parseGatewayDestination(dest: string, at: string): GatewayAddress["destination"] {
  const slash = dest.indexOf("/");
  const left = slash < 0 ? "" : dest.slice(0, slash);
  const right = slash < 0 ? dest : dest.slice(slash + 1);
  const ip = canonicalIp(right);
  if (ip !== undefined) return { kind: "address", address: { network: left, address: ip } };
  if (left === "" || right === "" || right.includes("/")) {
    throw configError(at, `invalid destination "${dest}" (expected network/ip or namespace/hostname)`);
  }
  return { kind: "hostname", hostname: { namespace: left, hostname: right } };
}
