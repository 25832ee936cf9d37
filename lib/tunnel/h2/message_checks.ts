/**
 * Well-formedness of HTTP/2 header sections (RFC 9113 §8.1-8.5), as pure decisions: a malformed
 * request, response or trailer section is a stream error of type PROTOCOL_ERROR (§8.1.1), never
 * handed to the application.
 */
import type { Headers } from "./stream.ts";

export type MessageCheck =
  | { readonly ok: true; readonly contentLength: number | undefined; readonly status?: number }
  | { readonly ok: false; readonly reason: string };

const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

const bad = (reason: string): MessageCheck => ({ ok: false, reason });

/** A request's header section: pseudo-header rules, CONNECT (§8.5) or regular, field syntax. */
export function checkRequest(headers: Headers): MessageCheck {
  const pseudo = new Map<string, string>();
  let regular = false;
  for (const [name, value] of headers) {
    if (name.startsWith(":")) {
      if (regular) return bad(`pseudo-header ${name} after a regular field`);
      if (!REQUEST_PSEUDO.has(name)) return bad(`pseudo-header ${name} not allowed in a request`);
      if (pseudo.has(name)) return bad(`duplicate ${name}`);
      pseudo.set(name, value);
    } else regular = true;
    const why = fieldProblem(name, value);
    if (why) return bad(why);
  }
  const method = pseudo.get(":method");
  if (!method) return bad("missing :method");
  const extended = pseudo.has(":protocol");
  if (method === "CONNECT" && !extended) {
    if (!pseudo.get(":authority")) return bad("CONNECT without :authority");
    if (pseudo.has(":scheme") || pseudo.has(":path")) return bad("CONNECT with :scheme or :path");
  } else {
    if (extended && method !== "CONNECT") return bad(":protocol on a request other than CONNECT");
    if (!pseudo.get(":scheme")) return bad("missing :scheme");
    if (!pseudo.get(":path")) return bad("missing or empty :path");
  }
  return contentLengthOf(headers);
}

/** A response's header section (client side): :status and field syntax. */
export function checkResponse(headers: Headers): MessageCheck {
  let status: number | undefined;
  let regular = false;
  for (const [name, value] of headers) {
    if (name.startsWith(":")) {
      if (regular) return bad(`pseudo-header ${name} after a regular field`);
      if (name !== ":status" || status !== undefined) {
        return bad(`pseudo-header ${name} not allowed in a response`);
      }
      if (!/^[0-9]{3}$/.test(value)) return bad(`bad :status ${JSON.stringify(value)}`);
      status = Number(value);
    } else regular = true;
    const why = fieldProblem(name, value);
    if (why) return bad(why);
  }
  if (status === undefined) return bad("missing :status");
  const c = contentLengthOf(headers);
  return c.ok ? { ...c, status } : c;
}

/** A trailer section: no pseudo-headers (§8.1). */
export function checkTrailers(headers: Headers): MessageCheck {
  for (const [name, value] of headers) {
    if (name.startsWith(":")) return bad(`pseudo-header ${name} in trailers`);
    const why = fieldProblem(name, value);
    if (why) return bad(why);
  }
  return { ok: true, contentLength: undefined };
}

/** §8.2.1-8.2.2: lowercase visible names, no CR/LF/NUL in values, no connection-specific fields. */
function fieldProblem(name: string, value: string): string | undefined {
  const start = name.startsWith(":") ? 1 : 0;
  if (name.length === start) return "empty field name";
  for (let i = start; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x41 && c <= 0x5a) || c >= 0x7f || c === 0x3a) {
      return `invalid field name ${JSON.stringify(name)}`;
    }
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return `invalid value in field ${name}`;
  }
  if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
  if (name === "te" && value !== "trailers") return `te: ${value}`;
  return undefined;
}

function contentLengthOf(headers: Headers): MessageCheck {
  let length: number | undefined;
  for (const [name, value] of headers) {
    if (name !== "content-length") continue;
    if (!/^[0-9]{1,15}$/.test(value)) return bad(`bad content-length ${JSON.stringify(value)}`);
    const n = Number(value);
    if (length !== undefined && length !== n) return bad("conflicting content-length values");
    length = n;
  }
  return { ok: true, contentLength: length };
}
