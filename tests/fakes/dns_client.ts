/**
 * A plain DNS client for the tests: queries built and read with dns-packet (independent of zt's codec),
 * sent over UDP or TCP; raw packets can be sent too (malformed input).
 */
import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
import { dnsPacket, type DpPacket } from "./dns_packet.ts";

export interface Server {
  readonly ip: string;
  readonly port: number;
}

export interface QueryOptions {
  readonly type?: string;
  readonly transport?: "udp" | "tcp";
  /** EDNS UDP payload size (no OPT record when undefined). */
  readonly edns?: number;
  readonly dnssecOk?: boolean;
  readonly id?: number;
  readonly timeoutMs?: number;
}

export function buildQuery(name: string, o: QueryOptions = {}): Uint8Array {
  return dnsPacket.encode({
    type: "query",
    id: o.id ?? 4321,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: o.type ?? "A", class: "IN" }],
    additionals: o.edns === undefined ? [] : [{
      name: ".",
      type: "OPT",
      udpPayloadSize: o.edns,
      flags: o.dnssecOk ? 0x8000 : 0,
    } as never],
  });
}

/** One UDP exchange; undefined when nothing came back within the timeout. */
export function udpExchange(
  s: Server,
  packet: Uint8Array,
  timeoutMs = 2000,
): Promise<Uint8Array | undefined> {
  const sock = dgram.createSocket(s.ip.includes(":") ? "udp6" : "udp4");
  return new Promise((resolve) => {
    const done = (v: Uint8Array | undefined) => {
      clearTimeout(timer);
      sock.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on("message", (m) => done(new Uint8Array(m)));
    sock.send(packet, s.port, s.ip);
  });
}

/** Sends framed messages on one TCP connection and collects `expect` framed answers. */
export function tcpExchange(
  s: Server,
  packets: Uint8Array[],
  expect = packets.length,
  timeoutMs = 3000,
): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(s.port, s.ip);
    const out: Uint8Array[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`TCP: ${out.length} of ${expect} answers`));
    }, timeoutMs);
    c.on("connect", () => {
      for (const p of packets) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(p.length);
        c.write(Buffer.concat([len, Buffer.from(p)]));
      }
    });
    c.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length >= expect) {
        clearTimeout(timer);
        c.destroy();
        resolve(out);
      }
    });
    c.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export interface Answer extends DpPacket {
  /** Decoded header flags. */
  readonly aa: boolean;
  readonly tc: boolean;
  readonly ra: boolean;
  readonly size: number;
}

export function readAnswer(bytes: Uint8Array): Answer {
  const p = dnsPacket.decode(Buffer.from(bytes));
  const f = p.flags ?? 0;
  return {
    ...p,
    aa: (f & dnsPacket.AUTHORITATIVE_ANSWER) !== 0,
    tc: (f & dnsPacket.TRUNCATED_RESPONSE) !== 0,
    ra: (f & dnsPacket.RECURSION_AVAILABLE) !== 0,
    size: bytes.length,
  };
}

/** A query and its decoded answer; throws when none came. */
export async function query(s: Server, name: string, o: QueryOptions = {}): Promise<Answer> {
  const q = buildQuery(name, o);
  const raw = o.transport === "tcp"
    ? (await tcpExchange(s, [q], 1, o.timeoutMs))[0]
    : await udpExchange(s, q, o.timeoutMs);
  if (!raw) throw new Error(`no answer for ${name}`);
  return readAnswer(raw);
}
