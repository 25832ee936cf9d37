/**
 * The one name resolver of a node, shared by the DNS proxy and SOCKS5 so both give the same answer for
 * the same name and pod: mesh names through the answer rules (lib/dns/answer.ts), everything else
 * through that pod's upstream forwarder.
 */
import type { Workload } from "../state/types.ts";
import { ipBytes } from "../state/ip.ts";
import {
  type Answer,
  type AnswerOptions,
  answerQuestion,
  type DnsStateView,
  LOCAL_TTL_SECONDS,
  type LocalAnswer,
} from "./answer.ts";
import { encodeName } from "./dns_name.ts";
import { type DnsQuestion, type DnsRecord, RClass, RType } from "./dns_types.ts";
import { formatIpBytes } from "../state/ip.ts";
import type { Forwarder, UpstreamResult } from "./forwarder.ts";

export type Resolution =
  | { readonly source: "local"; readonly answer: LocalAnswer; readonly records: readonly DnsRecord[] }
  | { readonly source: "upstream"; readonly result: UpstreamResult };

export interface NameResolverOptions extends AnswerOptions {
  readonly state: DnsStateView;
  /** The forwarder of the pod's DNS server, or a node-level one. */
  readonly forwarderFor: (pod: Workload) => Forwarder;
  /** Order of equal addresses (default: random, as ztunnel shuffles every answer). */
  readonly shuffle?: <T>(items: T[]) => T[];
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** The records of a local answer: the CNAME (if any), then one A/AAAA per address, TTL 30 s. */
export function localRecords(a: LocalAnswer, type: number): DnsRecord[] {
  const out: DnsRecord[] = [];
  const rec = (name: string, t: number, data: Uint8Array) =>
    out.push({ name, type: t, class: RClass.IN, ttl: LOCAL_TTL_SECONDS, data });
  if (a.cname) rec(a.cname.from, RType.CNAME, encodeName(a.cname.to));
  for (const ip of a.addresses) rec(a.recordName, type, ipBytes(ip)!);
  return out;
}

/** The addresses among `records` of type A or AAAA. */
export function recordAddresses(records: readonly DnsRecord[], type: number): string[] {
  return records.filter((r) => r.type === type && r.data.length === (type === RType.A ? 4 : 16))
    .map((r) => formatIpBytes(r.data));
}

export class NameResolver {
  readonly #o: NameResolverOptions;

  constructor(opts: NameResolverOptions) {
    this.#o = opts;
  }

  /** The decision alone (pure): local answer or forward. */
  decide(pod: Workload, q: { name: string; type: number }): Answer {
    return answerQuestion(this.#o.state, pod, q, this.#o);
  }

  /** Answers `q` as `pod`'s DNS proxy would. */
  async query(pod: Workload, q: DnsQuestion): Promise<Resolution> {
    const a = this.decide(pod, q);
    if (a.kind === "local") {
      const answer = { ...a, addresses: (this.#o.shuffle ?? shuffled)([...a.addresses]) };
      return { source: "local", answer, records: localRecords(answer, q.type) };
    }
    return { source: "upstream", result: await this.#o.forwarderFor(pod).lookup(q) };
  }

  /** The IPs `name` resolves to for `pod` (A first, then AAAA); empty when it does not resolve. */
  async resolve(pod: Workload, name: string): Promise<string[]> {
    for (const type of [RType.A, RType.AAAA]) {
      const r = await this.query(pod, { name: name.replace(/\.$/, ""), type, class: RClass.IN });
      const records = r.source === "local" ? r.records : r.result.kind === "answer" ? r.result.answers : [];
      const ips = recordAddresses(records, type);
      if (ips.length) return ips;
    }
    return [];
  }
}
