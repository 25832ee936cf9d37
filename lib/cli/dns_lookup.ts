/** `zt dns lookup NAME --pod NS/NAME [--type A] [--admin host:port] [-o json]`: what a pod's DNS answers. */
import { parseArgs } from "node:util";
import { errorMessage } from "../error.ts";
import type { DnsLookupView } from "../dns/dns_proxies.ts";
import { adminAddress, adminFetch } from "./admin_client.ts";

export const DNS_HELP =
  `zt dns lookup NAME --pod NAMESPACE/NAME [--type A|AAAA|MX|...] [-o text|json] [--admin host:port]

Shows what that pod's DNS proxy on a running node answers for NAME: mesh names (service hostnames, short
names relative to the pod's namespace, wildcards, headless endpoints) from zt itself, anything else
resolved upstream through the pod's forwarder. Reads the node's admin endpoint (--admin, else ADMIN_ADDR,
else 127.0.0.1:15000, or INSTANCE_IP:15000 on a loopback node).`;

export function formatDnsLookup(v: DnsLookupView): string {
  const how = v.source === "local"
    ? "answered by zt (authoritative)"
    : `forwarded${v.upstream ? ` to ${v.upstream}` : ""}`;
  const lines = [
    `;; ${v.pod} asks ${v.query} ${v.type}: ${how}, ${v.rcode}, ${v.result}${
      v.service ? ` (service ${v.service})` : ""
    }`,
  ];
  const width = Math.max(0, ...v.records.map((r) => r.name.length));
  for (const r of v.records) {
    lines.push(`${r.name.padEnd(width)}  ${String(r.ttl).padStart(5)}  IN  ${r.type.padEnd(5)}  ${r.data}`);
  }
  return lines.join("\n");
}

export async function dnsCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        pod: { type: "string" },
        type: { type: "string", default: "A" },
        output: { type: "string", short: "o", default: "text" },
        admin: { type: "string" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`zt dns: ${errorMessage(e)}\n\n${DNS_HELP}`);
    return 2;
  }
  const [sub, name, ...extra] = parsed.positionals;
  const { pod, type, output } = parsed.values;
  if (sub !== "lookup" || !name || extra.length || !pod || !["text", "json"].includes(output!)) {
    console.error(DNS_HELP);
    return 2;
  }
  const q = new URLSearchParams({ pod, name, type: type! });
  try {
    const res = await adminFetch(adminAddress(parsed.values.admin, Deno.env.toObject()), `/dns_lookup?${q}`);
    const body = await res.text();
    if (!res.ok) {
      console.error(`zt dns: ${body.trim()}`);
      return 1;
    }
    const view = JSON.parse(body) as DnsLookupView;
    console.log(output === "json" ? body.trimEnd() : formatDnsLookup(view));
    return 0;
  } catch (e) {
    console.error(`zt dns: ${errorMessage(e)}`);
    return 1;
  }
}
