/**
 * The protobuf layer: protobufjs reflection types loaded from the committed JSON descriptors
 * (proto/descriptors.ts, generated from proto/*.proto), and typed codecs for the xDS envelope,
 * google.protobuf.Struct and the Istio CA messages. Resource bodies (workload, authorization)
 * are decoded by their owners through `messageCodec`.
 *
 * Speed (tests/xds/large_push_test.ts, 2 vCPU): one DeltaDiscoveryResponse of 10,000 Workloads +
 * 1,000 Services + 1,000 Authorizations is 3.4 MB; envelope + every body decoded and converted to
 * zt's types takes ~30 ms warm (~100-120 MB/s), ~80-100 ms cold. pbjs static code decodes the same
 * bytes ~5-10 % faster warm (≈31-35 ms vs 34-37 ms decode only), so reflection is kept.
 */
import protobuf from "protobufjs/light.js";
import { DESCRIPTORS } from "../../proto/descriptors.ts";
import { ZtError } from "../error.ts";

/** The descriptor registry. Immutable after load; shared because it is pure type information. */
export const protoRoot: protobuf.Root = protobuf.Root.fromJSON(DESCRIPTORS as protobuf.INamespace);

/** `type.googleapis.com/<full.name>`, the Any type URL and the xDS type_url of a message. */
export function typeUrlOf(fullName: string): string {
  return `type.googleapis.com/${fullName}`;
}

/** Encoder/decoder pair for one message type. */
export interface Codec<T> {
  readonly typeName: string;
  encode(message: T): Uint8Array;
  /** Throws ZtError("xds") naming the type when the bytes are not a valid message. */
  decode(bytes: Uint8Array): T;
}

/**
 * A codec for a message by full name (e.g. `istio.workload.Address`). Objects are the protobufjs
 * shape: camelCase fields, bytes as Uint8Array, enums as numbers, absent sub-messages null.
 */
export function messageCodec<T>(typeName: string): Codec<T> {
  let type: protobuf.Type;
  try {
    type = protoRoot.lookupType(typeName);
  } catch {
    throw new ZtError("proto", `unknown message type ${typeName}`);
  }
  return {
    typeName,
    encode(message: T): Uint8Array {
      const err = type.verify(message as Record<string, unknown>);
      if (err) throw new ZtError("proto", `${typeName}: ${err}`);
      return type.encode(type.fromObject(message as Record<string, unknown>)).finish();
    },
    decode(bytes: Uint8Array): T {
      try {
        return type.decode(bytes) as unknown as T;
      } catch (e) {
        throw new ZtError("xds", `invalid ${typeName}: ${e instanceof Error ? e.message : e}`);
      }
    },
  };
}

// ---- google.protobuf ----

export interface Any {
  typeUrl: string;
  value: Uint8Array;
}

/** google.protobuf.Value: exactly one kind is set. */
export interface StructValue {
  nullValue?: number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: Struct;
  listValue?: { values: StructValue[] };
}

export interface Struct {
  fields: Record<string, StructValue>;
}

/** JSON → google.protobuf.Value. */
export function jsonToValue(v: unknown): StructValue {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  if (typeof v === "object") return { structValue: jsonToStruct(v as Record<string, unknown>) };
  return { stringValue: String(v) };
}

/** A JSON object → google.protobuf.Struct. */
export function jsonToStruct(obj: Readonly<Record<string, unknown>>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = jsonToValue(v);
  return { fields };
}

/**
 * Whether a oneof member is set. Decoded protobufjs messages keep scalar defaults ("" / 0 / false)
 * on the prototype for oneof members, so only an own, non-null property counts.
 */
export function hasField(obj: object, key: string): boolean {
  const v = Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
  return v !== undefined && v !== null;
}

/** google.protobuf.Value → JSON. */
export function valueToJson(v: StructValue | null | undefined): unknown {
  if (!v) return null;
  if (hasField(v, "stringValue")) return v.stringValue;
  if (hasField(v, "numberValue")) return v.numberValue;
  if (hasField(v, "boolValue")) return v.boolValue;
  if (hasField(v, "structValue")) return structToJson(v.structValue);
  if (hasField(v, "listValue")) return (v.listValue!.values ?? []).map(valueToJson);
  return null;
}

/** google.protobuf.Struct → a JSON object. */
export function structToJson(s: Struct | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

// ---- envoy.service.discovery.v3 (Delta ADS) ----

export interface Node {
  id: string;
  cluster?: string;
  metadata?: Struct | null;
  buildVersion?: string;
}

/** google.rpc.Status. */
export interface RpcStatus {
  code?: number;
  message: string;
  details?: Any[];
}

export interface DeltaDiscoveryRequest {
  node?: Node | null;
  typeUrl: string;
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: RpcStatus | null;
}

export interface XdsResourceMessage {
  version: string;
  resource?: Any | null;
  name: string;
  aliases?: string[];
}

export interface DeltaDiscoveryResponse {
  systemVersionInfo?: string;
  resources: XdsResourceMessage[];
  typeUrl: string;
  nonce: string;
  removedResources?: string[];
}

export const deltaRequestCodec: Codec<DeltaDiscoveryRequest> = messageCodec(
  "envoy.service.discovery.v3.DeltaDiscoveryRequest",
);
export const deltaResponseCodec: Codec<DeltaDiscoveryResponse> = messageCodec(
  "envoy.service.discovery.v3.DeltaDiscoveryResponse",
);

/** The gRPC method path of Delta ADS. */
export const DELTA_ADS_METHOD =
  "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

// ---- istio.v1.auth (CA) ----

export interface IstioCertificateRequest {
  csr: string;
  /** Seconds. Decoded as a number (int64 values above 2^53 are not meaningful here). */
  validityDuration: number;
  metadata?: Struct | null;
}

export interface IstioCertificateResponse {
  certChain: string[];
}

const rawCertRequestCodec = messageCodec<IstioCertificateRequest>("istio.v1.auth.IstioCertificateRequest");

export const certificateRequestCodec: Codec<IstioCertificateRequest> = {
  typeName: rawCertRequestCodec.typeName,
  encode: (m) => rawCertRequestCodec.encode(m),
  decode(bytes) {
    const m = rawCertRequestCodec.decode(bytes);
    // int64 decodes as a Long; expose seconds as a plain number.
    return { csr: m.csr, validityDuration: longToNumber(m.validityDuration), metadata: m.metadata ?? null };
  },
};

function longToNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (v && typeof v === "object" && "toNumber" in v) return (v as { toNumber(): number }).toNumber();
  return Number(v ?? 0);
}

export const certificateResponseCodec: Codec<IstioCertificateResponse> = messageCodec(
  "istio.v1.auth.IstioCertificateResponse",
);

/** The gRPC method path of the Istio CA call. */
export const CREATE_CERTIFICATE_METHOD = "/istio.v1.auth.IstioCertificateService/CreateCertificate";
