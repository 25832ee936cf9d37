/**
 * A gRPC channel to the control plane (istiod's XDS_ADDRESS / CA_ADDRESS) over HTTP/2 + TLS,
 * with @grpc/grpc-js and raw-bytes codecs (no proto-loader). The server is verified against a root
 * CA (file, inline PEM or SYSTEM) and its certificate must name the URL host or, failing that, the
 * alternate hostname (ALT_XDS_HOSTNAME / ALT_CA_HOSTNAME, also sent as the TLS server name through
 * `grpc.ssl_target_name_override`), as ztunnel's AltHostnameVerifier does.
 * Every call carries fresh auth headers (the token file is re-read) plus the configured extras.
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { ZtError } from "../error.ts";
import { authHeaders, type AuthSource } from "./auth_source.ts";

export type RootCa =
  | { readonly kind: "system" }
  | { readonly kind: "pem"; readonly pem: string }
  | { readonly kind: "file"; readonly path: string };

/** XDS_ROOT_CA / CA_ROOT_CA: `SYSTEM`, inline PEM, or a file path. */
export function parseRootCa(value: string): RootCa {
  if (value === "SYSTEM") return { kind: "system" };
  if (value.includes("-----BEGIN")) return { kind: "pem", pem: value };
  return { kind: "file", path: value };
}

function rootCaBytes(ca: RootCa): Buffer | null {
  switch (ca.kind) {
    case "system":
      return null;
    case "pem":
      return Buffer.from(ca.pem);
    case "file":
      try {
        return Buffer.from(Deno.readFileSync(ca.path));
      } catch (e) {
        throw new ZtError("config", `cannot read root CA ${ca.path}: ${e instanceof Error ? e.message : e}`);
      }
  }
}

/** The SNI sent to an IP-addressed control plane when no alternate hostname is configured. */
export const DEFAULT_IP_TARGET_SNI = "istiod.istio-system.svc";

function isIpLiteral(host: string): boolean {
  return host.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

export interface ControlPlaneAddress {
  readonly host: string;
  readonly port: number;
  /** The grpc-js target (`host:port`, `[v6]:port`). */
  readonly target: string;
}

/** `https://host:port`; no scheme means https. Throws ZtError("config") for anything else. */
export function parseControlPlaneAddress(address: string): ControlPlaneAddress {
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(address) ? address : `https://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ZtError("config", `invalid control plane address "${address}"`);
  }
  if (url.protocol !== "https:") {
    throw new ZtError("config", `control plane address "${address}" must use https`);
  }
  const port = url.port ? Number(url.port) : 443;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return { host, port, target: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}` };
}

/** `<PREFIX><name>=<v>` env entries → header name (lowercased) → value, e.g. XDS_HEADER_foo. */
export function parsePrefixedHeaders(
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && k.startsWith(prefix) && k.length > prefix.length) {
      out.set(k.slice(prefix.length).toLowerCase(), v);
    }
  }
  return out;
}

export interface GrpcChannelOptions {
  /** `https://host:port` (or `host:port`). */
  readonly address: string;
  readonly rootCa: RootCa;
  /** Also accepted as the server's name when the URL host does not match its certificate. */
  readonly altHostname?: string;
  readonly auth: AuthSource;
  /** Extra per-call metadata (XDS_HEADER_* / CA_HEADER_*). */
  readonly headers?: ReadonlyMap<string, string>;
  /** HTTP/2 keepalive ping interval and timeout; 30 s / 10 s by default. */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** 200 MiB by default. */
  readonly maxReceiveMessageBytes?: number;
}

export type Encode<T> = (message: T) => Uint8Array;
export type Decode<T> = (bytes: Uint8Array) => T;

/** What the ADS client needs from a channel; GrpcChannel implements it. */
export interface BidiChannel {
  bidiStream<Req, Res>(
    method: string,
    encode: Encode<Req>,
    decode: Decode<Res>,
  ): grpc.ClientDuplexStream<Req, Res>;
  /** Drops the current connection; the next call dials afresh. */
  reset(): void;
}

export class GrpcChannel implements BidiChannel {
  readonly address: ControlPlaneAddress;
  #opts: GrpcChannelOptions;
  #credentials: grpc.ChannelCredentials;
  #client: grpc.Client | undefined;
  #closed = false;
  #serverName: string | undefined;

  constructor(opts: GrpcChannelOptions) {
    this.#opts = opts;
    this.address = parseControlPlaneAddress(opts.address);
    const host = this.address.host;
    const alt = opts.altHostname;
    // The TLS server name (SNI). Deno refuses an IP address there, so an IP target sends the
    // alternate hostname, or istiod's service name. Verification (below) ignores it either way.
    this.#serverName = alt || (isIpLiteral(host) ? DEFAULT_IP_TARGET_SNI : undefined);
    this.#credentials = grpc.credentials.createSsl(rootCaBytes(opts.rootCa), null, null, {
      checkServerIdentity: (_name: string, cert: PeerCertificate) => {
        const err = checkServerIdentity(host, cert);
        if (!err || (alt && !checkServerIdentity(alt, cert))) return undefined;
        return err;
      },
    });
  }

  #connection(): grpc.Client {
    if (this.#closed) throw new ZtError("xds", "channel is closed");
    this.#client ??= new grpc.Client(this.address.target, this.#credentials, {
      "grpc.keepalive_time_ms": this.#opts.keepaliveTimeMs ?? 30_000,
      "grpc.keepalive_timeout_ms": this.#opts.keepaliveTimeoutMs ?? 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.max_receive_message_length": this.#opts.maxReceiveMessageBytes ?? 200 * 1024 * 1024,
      "grpc.max_send_message_length": -1,
      // zt owns reconnect policy (the ADS backoff); do not share or back off subchannels.
      "grpc.use_local_subchannel_pool": 1,
      "grpc.initial_reconnect_backoff_ms": 10,
      "grpc.max_reconnect_backoff_ms": 1_000,
      ...(this.#serverName ? { "grpc.ssl_target_name_override": this.#serverName } : {}),
    });
    return this.#client;
  }

  /** Fresh metadata for one call: auth (token re-read now), clusterid, extra headers. */
  callMetadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(authHeaders(this.#opts.auth))) md.set(k, v);
    for (const [k, v] of this.#opts.headers ?? []) md.set(k, v);
    return md;
  }

  /** Opens a bidi stream. Throws ZtError("auth") when the token cannot be read. */
  bidiStream<Req, Res>(
    method: string,
    encode: Encode<Req>,
    decode: Decode<Res>,
  ): grpc.ClientDuplexStream<Req, Res> {
    const md = this.callMetadata();
    return this.#connection().makeBidiStreamRequest(
      method,
      (m: Req) => Buffer.from(encode(m)),
      (b: Buffer) => decode(b),
      md,
    );
  }

  /** One unary call; rejects with a grpc ServiceError (`code`, `details`) or ZtError("auth"). */
  unary<Req, Res>(
    method: string,
    encode: Encode<Req>,
    decode: Decode<Res>,
    request: Req,
    opts: { timeoutMs?: number } = {},
  ): Promise<Res> {
    let md: grpc.Metadata;
    try {
      md = this.callMetadata();
    } catch (e) {
      return Promise.reject(e);
    }
    const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
    return new Promise((resolve, reject) => {
      this.#connection().makeUnaryRequest(
        method,
        (m: Req) => Buffer.from(encode(m)),
        (b: Buffer) => decode(b),
        request,
        md,
        deadline === undefined ? {} : { deadline },
        (err: grpc.ServiceError | null, res?: Res) => {
          if (err) reject(err);
          else resolve(res as Res);
        },
      );
    });
  }

  reset(): void {
    this.#client?.close();
    this.#client = undefined;
  }

  close(): void {
    this.#closed = true;
    this.reset();
  }
}
