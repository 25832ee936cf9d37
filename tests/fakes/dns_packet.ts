/**
 * dns-packet (npm), an independent DNS codec for the tests' own DNS peers and cross-checks, with the
 * few types the tests use (the package ships none).
 */
import untyped from "dns-packet";

export interface DpQuestion {
  name: string;
  type: string;
  class?: string;
}

export interface DpRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data?: unknown;
  udpPayloadSize?: number;
}

export interface DpPacket {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  rcode?: string;
  questions?: DpQuestion[];
  answers?: DpRecord[];
  authorities?: DpRecord[];
  additionals?: DpRecord[];
}

export interface DnsPacketLib {
  decode(b: Uint8Array): DpPacket;
  encode(p: DpPacket): Uint8Array;
  readonly AUTHORITATIVE_ANSWER: number;
  readonly TRUNCATED_RESPONSE: number;
  readonly RECURSION_DESIRED: number;
  readonly RECURSION_AVAILABLE: number;
}

export const dnsPacket = untyped as unknown as DnsPacketLib;
