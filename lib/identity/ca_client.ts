/**
 * The Istio CA client (ztunnel's `CaClient`, `src/identity/caclient.rs`): one
 * `istio.v1.auth.IstioCertificateService/CreateCertificate` call per certificate, with a fresh
 * ECDSA P-256 CSR, `validity_duration` = SECRET_TTL in seconds and, in shared mode (the default),
 * `metadata = {ImpersonatedIdentity: "spiffe://td/ns/<ns>/sa/<sa>"}`. The returned leaf must carry
 * the requested identity, else the certificate is refused. The mesh roots are the chain's last
 * element (which may hold several concatenated roots).
 *
 * The channel is any object with GrpcChannel's `unary` (lib/xds/grpc_channel.ts); only the
 * message codecs come from the protobuf layer.
 */
import { ZtError } from "../error.ts";
import {
  certificateRequestCodec,
  certificateResponseCodec,
  CREATE_CERTIFICATE_METHOD,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
  jsonToStruct,
} from "../xds/proto.ts";
import type { CertSource } from "./cert_manager.ts";
import { type WorkloadCertificate, workloadCertificateFromChain } from "./certificate.ts";
import { createCsr } from "./csr.ts";
import { formatIdentity, type Identity } from "./spiffe.ts";

/** The one call the CA client makes; GrpcChannel implements it. */
export interface UnaryChannel {
  unary<Req, Res>(
    method: string,
    encode: (m: Req) => Uint8Array,
    decode: (b: Uint8Array) => Res,
    request: Req,
    opts?: { timeoutMs?: number },
  ): Promise<Res>;
}

export interface IstioCaClientOptions {
  readonly channel: UnaryChannel;
  /** SECRET_TTL: the requested certificate lifetime (sent in whole seconds, at least 1). */
  readonly ttlMs: number;
  /** Shared (node proxy) mode asks for other workloads' identities; true by default. */
  readonly impersonate?: boolean;
  /** Per-call deadline; 10 s by default. */
  readonly timeoutMs?: number;
}

/** gRPC status code names, for error messages. */
const STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

function callFailure(e: unknown): ZtError {
  if (e instanceof ZtError) return e;
  const err = e as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof err?.code === "number") {
    const name = STATUS_NAMES[err.code] ?? `status ${err.code}`;
    return new ZtError(
      "ca",
      `CreateCertificate failed: ${name}: ${String(err.details ?? err.message ?? "")}`,
      {
        cause: e,
      },
    );
  }
  return new ZtError("ca", `CreateCertificate failed: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
  });
}

export class IstioCaClient implements CertSource {
  readonly #channel: UnaryChannel;
  readonly #validitySeconds: number;
  readonly #impersonate: boolean;
  readonly #timeoutMs: number;

  constructor(opts: IstioCaClientOptions) {
    if (!(opts.ttlMs > 0)) throw new ZtError("config", `SECRET_TTL must be positive, got ${opts.ttlMs} ms`);
    this.#channel = opts.channel;
    this.#validitySeconds = Math.max(1, Math.round(opts.ttlMs / 1000));
    this.#impersonate = opts.impersonate ?? true;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The request for `identity`'s CSR (exposed for tests and tools). */
  request(identity: Identity, csrPem: string): IstioCertificateRequest {
    return {
      csr: csrPem,
      validityDuration: this.#validitySeconds,
      metadata: this.#impersonate ? jsonToStruct({ ImpersonatedIdentity: formatIdentity(identity) }) : null,
    };
  }

  /**
   * Fetches a certificate for `identity`. Rejects with ZtError("ca") when the call fails and
   * ZtError("cert") when the response is unusable or names another identity.
   */
  async fetch(identity: Identity): Promise<WorkloadCertificate> {
    const csr = await createCsr(identity);
    // istiod backdates notBefore (by 2 minutes) and may shorten the TTL; the lifetime that counts for
    // renewal runs from here (a lower bound of the signing time) to the leaf's notAfter.
    const requestedAt = new Date();
    let res: IstioCertificateResponse;
    try {
      res = await this.#channel.unary(
        CREATE_CERTIFICATE_METHOD,
        (m: IstioCertificateRequest) => certificateRequestCodec.encode(m),
        (b) => certificateResponseCodec.decode(b),
        this.request(identity, csr.csrPem),
        { timeoutMs: this.#timeoutMs },
      );
    } catch (e) {
      throw callFailure(e);
    }
    return {
      ...workloadCertificateFromChain(csr.keyPem, res.certChain ?? [], identity),
      issuedAt: requestedAt,
    };
  }
}
