/**
 * The built-in client, for pods where curl or dig is missing: what they do, from a socket inside the
 * pod's network namespace with no mark, so istio-cni's rules capture it as they capture an app.
 * `resolve` is a stub resolver reading the pod's resolv.conf (nameserver, search list, ndots) and
 * asking over UDP port 53 — which the rules redirect to zt's DNS proxy in the pod; `get` is an
 * HTTP/1.1 GET by name or address.
 */
import type net from "node:net";
import { errorMessage } from "../error.ts";
import { decodeMessage } from "../dns/dns_decoder.ts";
import { encodeMessage } from "../dns/dns_encoder.ts";
import { RClass, Rcode, RType } from "../dns/dns_types.ts";
import { canonicalIp, formatIpBytes } from "../state/ip.ts";
import type { SocketFactory } from "../net/socket_factory.ts";

export interface PodResolver {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  readonly ndots: number;
  /** The nameservers' port: 53, as resolv.conf cannot say otherwise (tests use another). */
  readonly port?: number;
}

/** The resolver settings of a resolv.conf text (glibc's defaults where a line is missing). Pure. */
export function parsePodResolvConf(text: string): PodResolver {
  const nameservers: string[] = [];
  let search: string[] = [];
  let ndots = 1;
  for (const raw of text.split("\n")) {
    const [key, ...rest] = raw.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (key === "nameserver" && rest[0] && canonicalIp(rest[0])) nameservers.push(canonicalIp(rest[0])!);
    else if (key === "search" || key === "domain") search = rest;
    else if (key === "options") {
      for (const o of rest) {
        const m = /^ndots:(\d+)$/.exec(o);
        if (m) ndots = Math.min(15, Number(m[1]));
      }
    }
  }
  return { nameservers, search, ndots };
}

/** The names a stub resolver tries for `name`, in order (search list first below ndots dots). Pure. */
export function candidateNames(name: string, r: PodResolver): string[] {
  if (name.endsWith(".")) return [name.slice(0, -1)];
  const searched = r.search.map((s) => `${name}.${s}`);
  return name.split(".").length - 1 >= r.ndots ? [name, ...searched] : [...searched, name];
}

const TIMEOUT_MS = 3000;

/** One A query to `server`:53 from a socket in the pod: the addresses, or an rcode name / "timeout". */
async function queryA(
  factory: SocketFactory,
  server: string,
  port: number,
  name: string,
): Promise<string[] | string> {
  const id = crypto.getRandomValues(new Uint16Array(1))[0];
  const query = encodeMessage({
    id,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: true,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name, type: RType.A, class: RClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
  }).bytes;
  const socket = factory.bindUdp({ ip: "0.0.0.0", port: 0 });
  try {
    return await new Promise<string[] | string>((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), TIMEOUT_MS);
      socket.on("error", (e) => {
        clearTimeout(timer);
        resolve(errorMessage(e));
      });
      socket.on("message", (buf: Uint8Array) => {
        try {
          const m = decodeMessage(new Uint8Array(buf));
          if (m.id !== id || !m.qr) return;
          clearTimeout(timer);
          if (m.rcode !== Rcode.NOERROR) return resolve(m.rcode === Rcode.NXDOMAIN ? "NXDOMAIN" : "SERVFAIL");
          resolve(m.answers.filter((a) => a.type === RType.A).map((a) => formatIpBytes(a.data)));
        } catch { /* not an answer to us: keep waiting */ }
      });
      socket.send(query, port, server);
    });
  } finally {
    socket.close();
  }
}

export interface Resolved {
  /** The name that answered (after the search list). */
  readonly name?: string;
  readonly addresses: string[];
  readonly error?: string;
}

/** Resolves `name` as the pod's libc would (A records only). */
export async function resolveInPod(factory: SocketFactory, r: PodResolver, name: string): Promise<Resolved> {
  if (canonicalIp(name)) return { name, addresses: [canonicalIp(name)!] };
  let last = "no nameserver in resolv.conf";
  for (const candidate of candidateNames(name, r)) {
    for (const server of r.nameservers) {
      const got = await queryA(factory, server, r.port ?? 53, candidate);
      if (typeof got === "string") {
        last = `${candidate}: ${got}`;
        continue;
      }
      if (got.length) return { name: candidate, addresses: got };
      last = `${candidate}: no A record`;
      break;
    }
  }
  return { addresses: [], error: `could not resolve ${name} (${last})` };
}

export interface HttpAnswer {
  /** An HTTP response arrived (any status). */
  readonly ok: boolean;
  readonly status?: number;
  readonly body: string;
  readonly error?: string;
}

/** `GET url` from the pod: resolved through the pod's DNS, connected from the pod's namespace. */
export async function getInPod(factory: SocketFactory, r: PodResolver, url: string): Promise<HttpAnswer> {
  const u = new URL(url);
  const host = u.hostname;
  const resolved = await resolveInPod(factory, r, host);
  if (!resolved.addresses.length) return { ok: false, body: "", error: resolved.error };
  let socket: net.Socket | undefined;
  try {
    socket = await factory.connectTcp({ ip: resolved.addresses[0], port: Number(u.port || 80) });
    const text = await exchange(
      socket,
      `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: zt-demo\r\nAccept: */*\r\n` +
        `Connection: close\r\n\r\n`,
    );
    const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
    const head = text.indexOf("\r\n\r\n");
    if (!m || head < 0) return { ok: false, body: "", error: "empty reply from server" };
    return { ok: true, status: Number(m[1]), body: text.slice(head + 4) };
  } catch (e) {
    return { ok: false, body: "", error: errorMessage(e) };
  } finally {
    socket?.destroy();
  }
}

/** Writes `request`, reads until the peer closes (10 s at most); a reset before any byte is an error. */
function exchange(socket: net.Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const dec = new TextDecoder();
    const timer = setTimeout(() => reject(new Error("operation timed out")), 10_000);
    socket.on("data", (c: Uint8Array) => (text += dec.decode(c, { stream: true })));
    socket.on("error", (e) => {
      clearTimeout(timer);
      if (text) resolve(text);
      else reject(new Error(`recv failure: ${errorMessage(e)}`));
    });
    socket.on("end", () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(request);
  });
}
