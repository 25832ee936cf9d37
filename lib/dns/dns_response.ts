/**
 * The response zt sends for a request, as plain data (pure): built fresh from the request's header and
 * question and what the resolver found — never the upstream's packet. Locally served names are
 * authoritative (AA=1); forwarded ones are not (AA=0) and carry the upstream's answer and additional
 * records with its rcode (NXDOMAIN, NODATA, SERVFAIL kept); RA=1 throughout. A request with EDNS gets an
 * OPT record back: payload max(requested, 512), same version, DO copied.
 */
import { type DnsMessage, type DnsQuestion, type DnsRecord, type Edns, Rcode } from "./dns_types.ts";
import type { DecodedHeader } from "./dns_decoder.ts";
import type { Resolution } from "./name_resolver.ts";

/** The largest UDP response the client takes: 512, or its EDNS payload size (at least 512). */
export function udpLimit(req: { readonly edns?: Edns }): number {
  return req.edns ? Math.max(512, req.edns.udpSize) : 512;
}

export function responseEdns(req: { readonly edns?: Edns }): Edns | undefined {
  const e = req.edns;
  return e
    ? { udpSize: Math.max(512, e.udpSize), version: e.version, dnssecOk: e.dnssecOk, extendedRcode: 0 }
    : undefined;
}

type RequestLike = Pick<DecodedHeader, "id" | "opcode" | "rd" | "cd"> & {
  readonly questions?: readonly DnsQuestion[];
  readonly edns?: Edns;
};

/** A response to `req`: QR set, opcode/RD/CD copied, RA=1 (fields in the decoder's order: one shape). */
function response(
  req: RequestLike,
  aa: boolean,
  rcode: number,
  answers: readonly DnsRecord[],
  additionals: readonly DnsRecord[],
): DnsMessage {
  return {
    id: req.id,
    qr: true,
    opcode: req.opcode,
    aa,
    tc: false,
    rd: req.rd,
    ra: true,
    ad: false,
    cd: req.cd,
    rcode,
    questions: req.questions ?? [],
    answers,
    authorities: [],
    additionals,
    edns: responseEdns(req),
  };
}

/** An empty response with `rcode` (FORMERR, NOTIMP, SERVFAIL, ...). */
export function errorResponse(req: RequestLike, rcode: number): DnsMessage {
  return response(req, false, rcode, [], []);
}

/** The response to a well-formed query, given how it was resolved. */
export function resolvedResponse(req: DnsMessage, r: Resolution): DnsMessage {
  if (r.source === "local") return response(req, true, Rcode.NOERROR, r.records, []);
  const u = r.result;
  if (u.kind === "failed") return errorResponse(req, Rcode.SERVFAIL);
  return response(req, false, u.rcode, u.answers, u.additionals);
}
