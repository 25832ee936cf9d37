/**
 * A fake istiod for tests: a real @grpc/grpc-js server over TLS speaking Delta ADS and the Istio
 * CA service, scripted by the test. It records every request (with its metadata headers), lets
 * the test push resources, end streams with a status, kill the server and restart it on the same
 * port, and script the CA (sign, return a wrong identity, fail).
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import { type Identity, parseIdentity } from "../../lib/identity/spiffe.ts";
import {
  certificateRequestCodec,
  certificateResponseCodec,
  CREATE_CERTIFICATE_METHOD,
  DELTA_ADS_METHOD,
  type DeltaDiscoveryRequest,
  deltaRequestCodec,
  deltaResponseCodec,
  type IstioCertificateRequest,
  structToJson,
} from "../../lib/xds/proto.ts";
import { makeControlPlaneCa, type ServerTls } from "./grpc_tls.ts";

export interface RecordedRequest {
  readonly request: DeltaDiscoveryRequest;
  readonly headers: Record<string, string>;
  /** Which stream (1-based, counting across restarts) carried it. */
  readonly stream: number;
}

export interface RecordedCaRequest {
  readonly request: IstioCertificateRequest;
  readonly headers: Record<string, string>;
}

export interface FakeResource {
  readonly name: string;
  readonly version?: string;
  readonly aliases?: string[];
  /** The Any's value; omit for a resource without a payload. */
  readonly body?: Uint8Array;
  /** The Any's type URL; defaults to the push's type URL. */
  readonly anyTypeUrl?: string;
}

/** Throw from a CA handler to answer with this gRPC status. */
export class CaFailure extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

export type CaHandler = (req: IstioCertificateRequest, headers: Record<string, string>) => Promise<string[]>;

/** The requested identity, from the ImpersonatedIdentity metadata (required by this fake). */
function requestedIdentity(req: IstioCertificateRequest): Identity {
  const meta = structToJson(req.metadata);
  const id = typeof meta.ImpersonatedIdentity === "string"
    ? parseIdentity(meta.ImpersonatedIdentity)
    : undefined;
  if (!id) throw new CaFailure(grpc.status.INVALID_ARGUMENT, "no ImpersonatedIdentity in metadata");
  return id;
}

/** Signs with `ca` for the requested (impersonated) identity, like istiod. */
export function signingCaHandler(ca: BuiltinCa): CaHandler {
  return (req) => ca.signCsr(req.csr, requestedIdentity(req), req.validityDuration * 1000);
}

/** Signs with `ca`, but for `identity` instead of the requested one. */
export function wrongIdentityCaHandler(ca: BuiltinCa, identity: Identity): CaHandler {
  return (req) => ca.signCsr(req.csr, identity, req.validityDuration * 1000);
}

export function failingCaHandler(code: grpc.status, message: string): CaHandler {
  return () => Promise.reject(new CaFailure(code, message));
}

const ADS_PATH = DELTA_ADS_METHOD;
const CA_PATH = CREATE_CERTIFICATE_METHOD;

const ADS_SERVICE: grpc.ServiceDefinition = {
  DeltaAggregatedResources: {
    path: ADS_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: DeltaDiscoveryRequest) => Buffer.from(deltaRequestCodec.encode(m)),
    requestDeserialize: (b: Buffer) => deltaRequestCodec.decode(b),
    responseSerialize: (b: Uint8Array) => Buffer.from(b),
    responseDeserialize: (b: Buffer) => b,
  },
};

const CA_SERVICE: grpc.ServiceDefinition = {
  CreateCertificate: {
    path: CA_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: IstioCertificateRequest) => Buffer.from(certificateRequestCodec.encode(m)),
    requestDeserialize: (b: Buffer) => certificateRequestCodec.decode(b),
    responseSerialize: (m: { certChain: string[] }) => Buffer.from(certificateResponseCodec.encode(m)),
    responseDeserialize: (b: Buffer) => certificateResponseCodec.decode(b),
  },
};

type AdsCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, Uint8Array>;

function headersOf(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) {
    out[k] = typeof v === "string" ? v : Buffer.from(v).toString();
  }
  return out;
}

export interface FakeIstiodOptions {
  /** Server certificate; by default one for `localhost`, `istiod.istio-system.svc` and the host. */
  readonly tls?: ServerTls & { readonly caPem: string };
  /** The IPv4 address to listen on (default 127.0.0.1), e.g. one a peer in another netns can reach. */
  readonly host?: string;
  readonly caHandler?: CaHandler;
}

export class FakeIstiod {
  readonly requests: RecordedRequest[] = [];
  readonly caRequests: RecordedCaRequest[] = [];
  #server: grpc.Server | undefined;
  #tls: ServerTls & { readonly caPem: string };
  #caHandler: CaHandler;
  #streams = new Map<number, AdsCall>();
  #streamCount = 0;
  #nonce = 0;
  #waiters = new Set<() => void>();

  private constructor(
    readonly port: number,
    tls: ServerTls & { caPem: string },
    caHandler: CaHandler,
    readonly host: string,
  ) {
    this.#tls = tls;
    this.#caHandler = caHandler;
  }

  static async start(opts: FakeIstiodOptions = {}): Promise<FakeIstiod> {
    let tls = opts.tls;
    if (!tls) {
      const ca = await makeControlPlaneCa();
      const server = await ca.issueServer({
        dns: ["localhost", "istiod.istio-system.svc"],
        ips: [opts.host ?? "127.0.0.1"],
      });
      tls = { ...server, caPem: ca.caPem };
    }
    const f = new FakeIstiod(
      0,
      tls,
      opts.caHandler ?? failingCaHandler(grpc.status.UNIMPLEMENTED, "no CA"),
      opts.host ?? "127.0.0.1",
    );
    const port = await f.#listen(0);
    (f as { port: number }).port = port;
    return f;
  }

  /** `https://<host>:<port>`. */
  get address(): string {
    return `https://${this.host}:${this.port}`;
  }

  /** The PEM root that verifies this server. */
  get caPem(): string {
    return this.#tls.caPem;
  }

  /** Streams opened so far (across restarts). */
  get streamCount(): number {
    return this.#streamCount;
  }

  get activeStreams(): number {
    return this.#streams.size;
  }

  /** Requests carrying error_detail. */
  get nacks(): RecordedRequest[] {
    return this.requests.filter((r) => r.request.errorDetail);
  }

  setCaHandler(h: CaHandler): void {
    this.#caHandler = h;
  }

  #listen(port: number): Promise<number> {
    const server = new grpc.Server();
    server.addService(ADS_SERVICE, { DeltaAggregatedResources: (call: AdsCall) => this.#onStream(call) });
    server.addService(CA_SERVICE, {
      CreateCertificate: (
        call: grpc.ServerUnaryCall<IstioCertificateRequest, unknown>,
        cb: grpc.sendUnaryData<{ certChain: string[] }>,
      ) => this.#onCa(call, cb),
    });
    // A non-null root is required: with null, Deno's TLS server breaks the handshake. Client
    // certificates are not requested, so it only satisfies grpc-js.
    const creds = grpc.ServerCredentials.createSsl(Buffer.from(this.#tls.caPem), [{
      private_key: Buffer.from(this.#tls.keyPem),
      cert_chain: Buffer.from(this.#tls.certPem),
    }], false);
    this.#server = server;
    return new Promise((resolve, reject) =>
      server.bindAsync(`${this.host}:${port}`, creds, (err, bound) => (err ? reject(err) : resolve(bound)))
    );
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #onStream(call: AdsCall): void {
    const id = ++this.#streamCount;
    this.#streams.set(id, call);
    const headers = headersOf(call.metadata);
    call.sendMetadata(new grpc.Metadata());
    call.on("data", (request: DeltaDiscoveryRequest) => {
      this.requests.push({ request, headers, stream: id });
      this.#notify();
    });
    const drop = () => {
      if (this.#streams.delete(id)) this.#notify();
    };
    call.on("end", () => {
      drop();
      call.end();
    });
    call.on("cancelled", drop);
    call.on("error", drop);
    call.on("close", drop);
    this.#notify();
  }

  async #onCa(
    call: grpc.ServerUnaryCall<IstioCertificateRequest, unknown>,
    cb: grpc.sendUnaryData<{ certChain: string[] }>,
  ): Promise<void> {
    const headers = headersOf(call.metadata);
    this.caRequests.push({ request: call.request, headers });
    this.#notify();
    try {
      cb(null, { certChain: await this.#caHandler(call.request, headers) });
    } catch (e) {
      const code = e instanceof CaFailure ? e.code : grpc.status.INTERNAL;
      cb({ code, details: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Sends a DeltaDiscoveryResponse to every open stream; returns its nonce. */
  push(typeUrl: string, resources: readonly FakeResource[], removed: readonly string[] = []): string {
    const nonce = `nonce-${++this.#nonce}`;
    const bytes = deltaResponseCodec.encode({
      typeUrl,
      nonce,
      systemVersionInfo: "fake",
      resources: resources.map((r) => ({
        name: r.name,
        version: r.version ?? "1",
        aliases: r.aliases ?? [],
        resource: r.body ? { typeUrl: r.anyTypeUrl ?? typeUrl, value: r.body } : null,
      })),
      removedResources: [...removed],
    });
    for (const call of this.#streams.values()) call.write(bytes);
    return nonce;
  }

  /** Ends every open stream with the given gRPC status (e.g. istiod's MaxConnectionAge close). */
  endStreams(code: grpc.status, details: string): void {
    for (const call of this.#streams.values()) call.emit("error", { code, details });
  }

  /** Resolves when `cond` holds, re-checked on every recorded event; rejects after `timeoutMs`. */
  waitFor<T>(cond: () => T | undefined, timeoutMs = 5000, what = "condition"): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = cond();
        if (v === undefined) return false;
        cleanup();
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake istiod: timed out waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The first request (at index ≥ since) matching `pred`. */
  waitForRequest(
    pred: (r: RecordedRequest) => boolean,
    opts: { since?: number; timeoutMs?: number } = {},
  ): Promise<RecordedRequest> {
    return this.waitFor(() => this.requests.slice(opts.since ?? 0).find(pred), opts.timeoutMs, "request");
  }

  /** The ACK or NACK of a nonce. */
  waitForReply(nonce: string, timeoutMs?: number): Promise<RecordedRequest> {
    return this.waitForRequest((r) => r.request.responseNonce === nonce, { timeoutMs });
  }

  /** Hard-stops the server, dropping every connection without a goodbye. */
  kill(): Promise<void> {
    this.#server?.forceShutdown();
    this.#server = undefined;
    this.#streams.clear();
    return Promise.resolve();
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    if (this.#server) await this.kill();
    await this.#listen(this.port);
  }

  close(): Promise<void> {
    return this.kill();
  }
}
