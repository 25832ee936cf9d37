/** Record data as text (dig's presentation, for the admin endpoint and `zt dns lookup`). */
import { formatIpBytes } from "../state/ip.ts";
import { readName } from "./dns_decoder.ts";
import { type DnsRecord, RType, typeName } from "./dns_types.ts";

const NAME_TYPES = new Set<number>([RType.NS, RType.CNAME, RType.PTR, 39]);

export interface RecordView {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly data: string;
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export function rdataText(r: Pick<DnsRecord, "type" | "data">): string {
  const d = r.data;
  try {
    if ((r.type === RType.A && d.length === 4) || (r.type === RType.AAAA && d.length === 16)) {
      return formatIpBytes(d);
    }
    if (NAME_TYPES.has(r.type)) return `${readName(d, 0).name}.`;
    if (r.type === RType.MX && d.length >= 3) return `${(d[0] << 8) | d[1]} ${readName(d, 2).name}.`;
    if (r.type === RType.SRV && d.length >= 7) {
      const u = (o: number) => (d[o] << 8) | d[o + 1];
      return `${u(0)} ${u(2)} ${u(4)} ${readName(d, 6).name}.`;
    }
    if (r.type === RType.TXT) {
      const parts: string[] = [];
      for (let i = 0; i < d.length;) {
        const n = d[i];
        parts.push(JSON.stringify(new TextDecoder().decode(d.subarray(i + 1, i + 1 + n))));
        i += 1 + n;
      }
      return parts.join(" ");
    }
  } catch {
    // fall through: shown as bytes
  }
  return `\\# ${d.length} ${hex(d)}`;
}

export function recordView(r: DnsRecord): RecordView {
  return { name: `${r.name}.`, type: typeName(r.type), ttl: r.ttl, data: rdataText(r) };
}
