/**
 * HTTP/2 frames and HPACK literals built by hand for the abuse peers (RFC 9113 §4, §6; RFC 7541
 * §5.1, §6.2.2, Appendix A), valid or not, with no code of zt's own: what a hostile client writes.
 */
export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Code = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  FLOW_CONTROL_ERROR: 3,
  CANCEL: 8,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

export const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Code).map(([k, v]) => [v, k]),
);

const END_STREAM = 0x1;
export const ACK = 0x1;
const END_HEADERS = 0x4;
/** Bytes of a frame header. */
export const HEADER = 9;
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
export const SETTINGS_INITIAL_WINDOW_SIZE = 4;
export const MAX_WINDOW = 0x7fffffff;

/** One frame: any type, flags, stream and payload, valid or not. */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
) {
  const out = new Uint8Array(HEADER + payload.length);
  const n = payload.length;
  out[0] = n >>> 16 & 0xff;
  out[1] = n >>> 8 & 0xff;
  out[2] = n & 0xff;
  out[3] = type;
  out[4] = flags;
  new DataView(out.buffer).setUint32(5, streamId >>> 0);
  out.set(payload, HEADER);
  return out;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

export const ping = (n: number): Uint8Array => frame(FrameType.PING, 0, 0, join([u32(0), u32(n)]));
export const rst = (id: number, code: number): Uint8Array => frame(FrameType.RST_STREAM, 0, id, u32(code));
export const windowUpdate = (id: number, inc: number): Uint8Array =>
  frame(FrameType.WINDOW_UPDATE, 0, id, u32(inc));
export const data = (id: number, bytes: Uint8Array, end = false): Uint8Array =>
  frame(FrameType.DATA, end ? END_STREAM : 0, id, bytes);

export function settings(entries: Array<[number, number]> = []): Uint8Array {
  const p = new Uint8Array(entries.length * 6);
  const dv = new DataView(p.buffer);
  entries.forEach(([k, v], i) => {
    dv.setUint16(i * 6, k);
    dv.setUint32(i * 6 + 2, v >>> 0);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 §5.1), its first byte or-ed with `high`. */
function hpackInt(v: number, prefix: number, high: number): number[] {
  const max = (1 << prefix) - 1;
  if (v < max) return [high | v];
  const out = [high | max];
  for (v -= max; v >= 128; v = Math.floor(v / 128)) out.push(v % 128 | 0x80);
  out.push(v);
  return out;
}

/** A literal header field without indexing, with a literal name (no Huffman). */
export function literal(name: string, value: string): Uint8Array {
  const n = new TextEncoder().encode(name);
  const v = new TextEncoder().encode(value);
  return join([
    new Uint8Array([0x00, ...hpackInt(n.length, 7, 0)]),
    n,
    new Uint8Array(hpackInt(v.length, 7, 0)),
    v,
  ]);
}

/** An HBONE request's header block: CONNECT to `authority`. */
export function connectBlock(authority: string): Uint8Array {
  return join([literal(":method", "CONNECT"), literal(":authority", authority)]);
}

/** HEADERS for a CONNECT, END_HEADERS set unless `open`. */
export function connect(id: number, authority: string, open = false): Uint8Array {
  return frame(FrameType.HEADERS, open ? 0 : END_HEADERS, id, connectBlock(authority));
}

export function continuation(id: number, payload: Uint8Array, last = false): Uint8Array {
  return frame(FrameType.CONTINUATION, last ? END_HEADERS : 0, id, payload);
}

export function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `n` copies of `one`, as one buffer (one socket write). */
export function repeat(one: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(one.length * n);
  for (let i = 0; i < n; i++) out.set(one, i * one.length);
  return out;
}

const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

/**
 * The :status a response block starts with (RFC 7541 Appendix A): fully indexed, or a literal with a
 * static :status name and a plain value; NaN for anything else (Huffman, a padded or prioritised block).
 */
export function statusOf(block: Uint8Array): number {
  const b = block[0];
  if (b & 0x80) return STATIC_STATUS[b & 0x7f] ?? NaN;
  const name = b & 0x40 ? b & 0x3f : b & 0x0f;
  if (STATIC_STATUS[name] === undefined || block[1] & 0x80) return NaN;
  return Number(new TextDecoder().decode(block.subarray(2, 2 + block[1])));
}
