/**
 * ZDS messages (package istio.workload.zds, istio-cni ⇄ node proxy), hand-coded proto3: one message per
 * SEQPACKET packet, no framing. Byte-exact with Go's proto.Marshal and prost for every message ZDS
 * sends; decoding follows proto3 (unknown fields skipped, last oneof member wins, a repeated member
 * merges) and never throws: a bad packet is a typed ZdsDecodeError.
 *
 *   WorkloadRequest  { oneof payload { AddWorkload add = 1; DelWorkload del = 2;
 *                                      SnapshotSent snapshot_sent = 3; KeepWorkload keep = 5; } }
 *   AddWorkload      { string uid = 1; WorkloadInfo workload_info = 2; }
 *   WorkloadInfo     { string name = 1; string namespace = 2; string service_account = 3; }  (4 reserved)
 *   DelWorkload      { string uid = 2; }      KeepWorkload { string uid = 1; }      SnapshotSent {}
 *   WorkloadResponse { oneof payload { Ack ack = 1; } }     Ack { string error = 1; }
 *   ZdsHello         { Version version = 1; }                Version { NOT_USED = 0; V1 = 1; }
 */
import type { WorkloadInfo } from "./pod_launcher.ts";
import {
  WIRE_LEN,
  WIRE_VARINT,
  type WireError,
  type WireErrorReason,
  WireReader,
  WireWriter,
  wrongWireType,
} from "./proto_wire.ts";

export const ZDS_VERSION_V1 = 1;

/** A request from istio-cni. `info` is absent when AddWorkload carried no workload_info. */
export type ZdsRequest =
  | { readonly kind: "add"; readonly uid: string; readonly info?: WorkloadInfo }
  | { readonly kind: "keep"; readonly uid: string }
  | { readonly kind: "del"; readonly uid: string }
  | { readonly kind: "snapshot_sent" };

/** A response from the node proxy: an Ack (empty error = success), or a WorkloadResponse without payload. */
export type ZdsResponse = { readonly kind: "ack"; readonly error: string } | { readonly kind: "empty" };

export interface ZdsHello {
  readonly version: number;
}

export interface ZdsDecodeError {
  readonly kind: "zds_decode";
  readonly reason: WireErrorReason | "no_payload";
  readonly detail: string;
}

export type Decoded<T> =
  | { readonly ok: true; readonly message: T }
  | { readonly ok: false; readonly error: ZdsDecodeError };

function fail<T>(e: { readonly reason: ZdsDecodeError["reason"]; readonly detail: string }): Decoded<T> {
  return { ok: false, error: { kind: "zds_decode", reason: e.reason, detail: e.detail } };
}

function isError(v: unknown): v is WireError {
  return typeof v === "object" && v !== null && "reason" in v;
}

// ---- decoding ---------------------------------------------------------------------------------------

type Fields = Record<number, { wire: number; read: (r: WireReader) => WireError | undefined }>;

/** Reads a message's fields: known ones through `fields` (wire type checked), the rest skipped. */
function readFields(bytes: Uint8Array, fields: Fields, what: string): WireError | undefined {
  const r = new WireReader(bytes);
  while (!r.done) {
    const t = r.tag();
    if (isError(t)) return t;
    const f = fields[t.field];
    if (!f) {
      const e = r.skip(t.wire);
      if (e) return e;
      continue;
    }
    if (t.wire !== f.wire) return wrongWireType(`${what} field ${t.field}`, t.wire);
    const e = f.read(r);
    if (e) return e;
  }
  return undefined;
}

function stringInto(set: (v: string) => void, what: string) {
  return {
    wire: WIRE_LEN,
    read: (r: WireReader) => {
      const s = r.string(what);
      if (isError(s)) return s;
      set(s);
      return undefined;
    },
  };
}

function messageInto(decode: (b: Uint8Array) => WireError | undefined) {
  return {
    wire: WIRE_LEN,
    read: (r: WireReader) => {
      const b = r.lengthDelimited();
      return isError(b) ? b : decode(b);
    },
  };
}

interface MutableInfo {
  name: string;
  namespace: string;
  serviceAccount: string;
}

type Payload =
  | { kind: "add"; uid: string; info?: MutableInfo }
  | { kind: "keep"; uid: string }
  | { kind: "del"; uid: string }
  | { kind: "snapshot_sent" };

/** The payload to merge a oneof member into: the current one if of that kind, else a fresh one. */
function member<K extends Payload["kind"]>(cur: Payload | undefined, kind: K): Extract<Payload, { kind: K }> {
  if (cur?.kind === kind) return cur as Extract<Payload, { kind: K }>;
  const fresh = kind === "snapshot_sent" ? { kind } : { kind, uid: "" };
  return fresh as Extract<Payload, { kind: K }>;
}

export function decodeWorkloadRequest(bytes: Uint8Array): Decoded<ZdsRequest> {
  let payload: Payload | undefined;
  const e = readFields(bytes, {
    1: messageInto((b) => {
      const add = member(payload, "add");
      payload = add;
      return readFields(b, {
        1: stringInto((v) => (add.uid = v), "AddWorkload.uid"),
        2: messageInto((ib) => {
          const info = add.info ?? (add.info = { name: "", namespace: "", serviceAccount: "" });
          return readFields(ib, {
            1: stringInto((v) => (info.name = v), "WorkloadInfo.name"),
            2: stringInto((v) => (info.namespace = v), "WorkloadInfo.namespace"),
            3: stringInto((v) => (info.serviceAccount = v), "WorkloadInfo.service_account"),
          }, "WorkloadInfo");
        }),
      }, "AddWorkload");
    }),
    2: messageInto((b) => {
      const del = member(payload, "del");
      payload = del;
      return readFields(b, { 2: stringInto((v) => (del.uid = v), "DelWorkload.uid") }, "DelWorkload");
    }),
    3: messageInto((b) => {
      payload = member(payload, "snapshot_sent");
      return readFields(b, {}, "SnapshotSent");
    }),
    5: messageInto((b) => {
      const keep = member(payload, "keep");
      payload = keep;
      return readFields(b, { 1: stringInto((v) => (keep.uid = v), "KeepWorkload.uid") }, "KeepWorkload");
    }),
  }, "WorkloadRequest");
  if (e) return fail(e);
  if (!payload) return fail({ reason: "no_payload", detail: "WorkloadRequest has no payload" });
  const p: Payload = payload;
  const message: ZdsRequest = p.kind === "add"
    ? p.info ? { kind: "add", uid: p.uid, info: { ...p.info } } : { kind: "add", uid: p.uid }
    : { ...p };
  return { ok: true, message };
}

export function decodeWorkloadResponse(bytes: Uint8Array): Decoded<ZdsResponse> {
  let error: string | undefined;
  const e = readFields(bytes, {
    1: messageInto((b) => {
      error ??= "";
      return readFields(b, { 1: stringInto((v) => (error = v), "Ack.error") }, "Ack");
    }),
  }, "WorkloadResponse");
  if (e) return fail(e);
  return { ok: true, message: error === undefined ? { kind: "empty" } : { kind: "ack", error } };
}

export function decodeHello(bytes: Uint8Array): Decoded<ZdsHello> {
  let version = 0;
  const e = readFields(bytes, {
    1: {
      wire: WIRE_VARINT,
      read: (r) => {
        const v = r.int32();
        if (isError(v)) return v;
        version = v;
        return undefined;
      },
    },
  }, "ZdsHello");
  return e ? fail(e) : { ok: true, message: { version } };
}

// ---- encoding ---------------------------------------------------------------------------------------

function infoBytes(info: WorkloadInfo): Uint8Array {
  return new WireWriter()
    .stringField(1, info.name)
    .stringField(2, info.namespace)
    .stringField(3, info.serviceAccount)
    .finish();
}

/** One WorkloadRequest packet, as istio-cni's Go marshals it (never empty: the oneof tag is always there). */
export function encodeWorkloadRequest(req: ZdsRequest): Uint8Array {
  const w = new WireWriter();
  switch (req.kind) {
    case "add": {
      const add = new WireWriter().stringField(1, req.uid);
      if (req.info) add.bytesField(2, infoBytes(req.info));
      return w.bytesField(1, add.finish()).finish();
    }
    case "del":
      return w.bytesField(2, new WireWriter().stringField(2, req.uid).finish()).finish();
    case "snapshot_sent":
      return w.bytesField(3, new Uint8Array()).finish();
    case "keep":
      return w.bytesField(5, new WireWriter().stringField(1, req.uid).finish()).finish();
  }
}

/** WorkloadResponse{ack: Ack{error}}: `0a 00` for success (never an empty packet). */
export function encodeAck(error = ""): Uint8Array {
  return new WireWriter().bytesField(1, new WireWriter().stringField(1, error).finish()).finish();
}

/** ZdsHello{version: V1} = `08 01`. */
export function encodeHello(version = ZDS_VERSION_V1): Uint8Array {
  if (version === 0) throw new RangeError("ZdsHello NOT_USED would be an empty packet");
  return new WireWriter().varintField(1, version).finish();
}

/** For logs: a request in one short line. */
export function describeRequest(req: ZdsRequest): string {
  return req.kind === "snapshot_sent" ? "SnapshotSent" : `${req.kind} ${req.uid}`;
}
