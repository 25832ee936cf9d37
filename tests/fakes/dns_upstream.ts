/**
 * A small upstream DNS server for the tests (the role of the node's resolver): UDP and TCP on one
 * address, answering from a zone given by the test, built on dns-packet (an implementation independent
 * of zt's codec). Unknown names are NXDOMAIN; names can be made to SERVFAIL, to truncate over UDP (the
 * full answer over TCP), or to go unanswered; every query is recorded.
 */
import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
import { dnsPacket, type DpPacket, type DpRecord } from "./dns_packet.ts";

export interface ZoneEntry {
  readonly A?: readonly string[];
  readonly AAAA?: readonly string[];
  readonly CNAME?: string;
  readonly TXT?: string;
  readonly MX?: { readonly preference: number; readonly exchange: string };
  /** SERVFAIL for this name. */
  readonly servfail?: boolean;
  /** UDP answers say TC=1 with no records; TCP gets the whole answer. */
  readonly truncateUdp?: boolean;
  /** Never answered (a dead upstream for this name). */
  readonly silent?: boolean;
  /** Answered after this delay. */
  readonly delayMs?: number;
}

export interface SeenQuery {
  readonly transport: "udp" | "tcp";
  readonly name: string;
  readonly type: string;
  readonly id: number;
  readonly rd: boolean;
  readonly edns: boolean;
  /** The client's source port. */
  readonly port: number;
}

export class DnsUpstream {
  readonly queries: SeenQuery[] = [];
  #udp!: dgram.Socket;
  #tcp!: net.Server;
  #conns = new Set<net.Socket>();
  #timers = new Set<ReturnType<typeof setTimeout>>();

  private constructor(readonly ip: string, public port: number, readonly zone: Map<string, ZoneEntry>) {}

  static async start(ip: string, zone: Record<string, ZoneEntry>, port = 0): Promise<DnsUpstream> {
    const z = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase(), v]));
    const u = new DnsUpstream(ip, port, z);
    u.#udp = dgram.createSocket(ip.includes(":") ? "udp6" : "udp4");
    u.#udp.on("message", (m, r) => u.#answer(m, "udp", r.port, (b) => u.#udp.send(b, r.port, r.address)));
    await new Promise<void>((res) => u.#udp.bind(port, ip, () => res()));
    u.port = u.#udp.address().port;
    u.#tcp = net.createServer((c) => {
      u.#conns.add(c);
      c.on("close", () => u.#conns.delete(c));
      c.on("error", () => {});
      let buf = Buffer.alloc(0);
      c.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          u.#answer(msg, "tcp", c.remotePort ?? 0, (b) => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(b.length);
            c.write(Buffer.concat([len, Buffer.from(b)]));
          });
        }
      });
    });
    await new Promise<void>((res) => u.#tcp.listen(u.port, ip, () => res()));
    return u;
  }

  get address(): { ip: string; port: number } {
    return { ip: this.ip, port: this.port };
  }

  count(transport?: "udp" | "tcp"): number {
    return this.queries.filter((q) => !transport || q.transport === transport).length;
  }

  #answer(raw: Uint8Array, transport: "udp" | "tcp", port: number, send: (b: Uint8Array) => void): void {
    let q: DpPacket;
    try {
      q = dnsPacket.decode(raw);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const rd = ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0;
    this.queries.push({
      transport,
      name: question.name,
      type: question.type,
      id: q.id ?? 0,
      rd,
      edns: (q.additionals ?? []).some((r) => r.type === "OPT"),
      port,
    });
    const entry = this.zone.get(question.name.toLowerCase());
    if (entry?.silent) return;
    let rcode = 0;
    let flags = dnsPacket.RECURSION_AVAILABLE | (rd ? dnsPacket.RECURSION_DESIRED : 0);
    const answers: DpRecord[] = [];
    if (!entry) rcode = 3;
    else if (entry.servfail) rcode = 2;
    else if (entry.truncateUdp && transport === "udp") flags |= dnsPacket.TRUNCATED_RESPONSE;
    else {
      let name = question.name;
      if (entry.CNAME) {
        answers.push({ name, type: "CNAME", ttl: 300, data: entry.CNAME });
        name = entry.CNAME;
      }
      const target = this.zone.get(name.toLowerCase()) ?? entry;
      if (question.type === "A") {
        for (const ip of target.A ?? []) answers.push({ name, type: "A", ttl: 300, data: ip });
      }
      if (question.type === "AAAA") {
        for (const ip of target.AAAA ?? []) answers.push({ name, type: "AAAA", ttl: 300, data: ip });
      }
      if (question.type === "TXT" && target.TXT) {
        answers.push({ name, type: "TXT", ttl: 300, data: target.TXT });
      }
      if (question.type === "MX" && target.MX) answers.push({ name, type: "MX", ttl: 300, data: target.MX });
    }
    const out = dnsPacket.encode({
      type: "response",
      id: q.id,
      flags: flags | rcode,
      questions: q.questions,
      answers,
    });
    if (entry?.delayMs) {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        send(out);
      }, entry.delayMs);
      this.#timers.add(t);
    } else send(out);
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    for (const c of this.#conns) c.destroy();
    this.#udp.close();
    await new Promise<void>((r) => this.#tcp.close(() => r()));
  }
}

/** As a program: `deno run -A tests/fakes/dns_upstream.ts IP PORT 'ZONE-JSON'` serves until killed. */
if (import.meta.main) {
  const [ip, port, zone] = Deno.args;
  await DnsUpstream.start(ip, JSON.parse(zone ?? "{}"), Number(port));
  console.log("ready");
}
