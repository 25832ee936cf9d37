/**
 * DNS messages as zt handles them (RFC 1035, EDNS from RFC 6891): plain data, decoded by
 * dns_decoder.ts and written by dns_encoder.ts. Names are in presentation form without the final dot
 * (`www.example.com`, the root is `""`), case kept as received, with `\.`, `\\` and `\DDD` escapes for
 * label bytes that are not printable. Record data is kept as uncompressed wire bytes.
 */
import { ZtError } from "../error.ts";

export const RType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const RClass = { IN: 1 } as const;

export const Opcode = { QUERY: 0 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** A type's mnemonic as hickory prints it (`A`, `AAAA`, `TYPE65280`); metrics use it lowercased. */
const TYPE_NAMES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  13: "HINFO",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
  35: "NAPTR",
  39: "DNAME",
  41: "OPT",
  43: "DS",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  52: "TLSA",
  64: "SVCB",
  65: "HTTPS",
  99: "SPF",
  252: "AXFR",
  255: "ANY",
  257: "CAA",
};

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** `A`, `aaaa`, `TYPE28` or a number → the type code; undefined when unknown. */
export function parseType(text: string): number | undefined {
  const t = text.trim().toUpperCase();
  const m = /^TYPE(\d{1,5})$/.exec(t);
  if (m) return Number(m[1]) <= 0xffff ? Number(m[1]) : undefined;
  for (const [code, name] of Object.entries(TYPE_NAMES)) if (name === t) return Number(code);
  return undefined;
}

const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  /** RDATA, uncompressed (names inside well-known types are expanded on decode). */
  readonly data: Uint8Array;
}

export interface Edns {
  /** Requestor's UDP payload size (the OPT record's class). */
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  /** Upper 8 bits of the extended rcode. */
  readonly extendedRcode: number;
}

export interface DnsFlags {
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** The header's 4-bit rcode. */
  readonly rcode: number;
}

export interface DnsMessage extends DnsFlags {
  readonly id: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  /** Without the OPT pseudo-record, which is `edns`. */
  readonly additionals: readonly DnsRecord[];
  readonly edns?: Edns;
}

/** A packet that is not a well-formed DNS message (`where` says which part failed). */
export class DnsWireError extends ZtError {
  constructor(readonly where: "header" | "question" | "record" | "name" | "edns" | "encode", detail: string) {
    super("dns-wire", `${where}: ${detail}`);
  }
}
