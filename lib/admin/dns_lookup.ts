/**
 * `GET /dns_lookup?pod=NS/NAME&name=NAME[&type=A]`: what that local pod's DNS proxy answers for a name
 * (resolved for real: mesh names locally, others through the pod's upstream forwarder), as JSON.
 * 400 for a bad query, 404 for a pod without a DNS proxy here, 503 when the DNS proxy is off.
 */
import { parseType } from "../dns/dns_types.ts";
import type { DnsLookupView } from "../dns/dns_proxies.ts";
import { errorMessage } from "../error.ts";

/** Looks a name up as `pod` (`namespace/name`); "no pod" when that pod has no DNS proxy on this node. */
export type DnsLookupFn = (pod: string, name: string, type: number) => Promise<DnsLookupView | "no pod">;

export const DNS_LOOKUP_USAGE =
  "usage: GET /dns_lookup?pod=<namespace>/<name>&name=<name>[&type=A|AAAA|...]\n";

function text(body: string, status: number): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

export async function handleDnsLookup(
  params: URLSearchParams,
  lookup: DnsLookupFn | undefined,
): Promise<Response> {
  if (!lookup) return text("the DNS proxy is off on this node (ISTIO_META_DNS_CAPTURE)\n", 503);
  const pod = params.get("pod")?.trim() ?? "";
  const name = params.get("name")?.trim() ?? "";
  const type = parseType(params.get("type") ?? "A");
  if (!/^[^/\s]+\/[^/\s]+$/.test(pod) || name === "" || name.length > 255 || type === undefined) {
    return text(`invalid query\n${DNS_LOOKUP_USAGE}`, 400);
  }
  try {
    const r = await lookup(pod, name, type);
    if (r === "no pod") return text(`no DNS proxy for pod ${pod} on this node\n`, 404);
    return new Response(JSON.stringify(r, null, 2) + "\n", {
      headers: { "content-type": "application/json" },
    });
  } catch (e) {
    return text(`lookup failed: ${errorMessage(e)}\n`, 500);
  }
}
