/**
 * Driving the Istio HBONE peer (this directory's Go program, built by tests/fakes/go_peer.ts): its
 * certificate files, its client and server modes as child processes whose stdout JSON lines are
 * events, and the byte pattern it sends (pattern.go), so a test can check both ends by hash.
 */
import { createHash } from "node:crypto";
import { LogCollector, type LogRecord } from "../../../lib/cli/log_collector.ts";
import type { WorkloadCertificate } from "../../../lib/identity/certificate.ts";
import { goPeer } from "../../fakes/go_peer.ts";

export type PeerEvent = LogRecord;

export const ISTIO_PEER_DIR: string = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

/** The peer's binary, built on first use (cached across runs); throws when it cannot be built. */
export async function istioPeerBinary(): Promise<string> {
  const p = await goPeer(ISTIO_PEER_DIR);
  if (p.kind === "unavailable") throw new Error(`istio_hbone peer: ${p.reason}`);
  return p.path;
}

/** pattern.go's bytes: x = seed·2654435761, then per byte x = x·1103515245 + 12345 (mod 2^32), x>>24. */
export function istioPattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

export interface PeerCertFiles {
  readonly cert: string;
  readonly key: string;
  readonly roots: string;
}

/** Writes a workload certificate as the PEM files the peer's -cert/-key/-roots flags take. */
export async function writePeerCerts(
  dir: string,
  name: string,
  c: WorkloadCertificate,
): Promise<PeerCertFiles> {
  const files = { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key`, roots: `${dir}/${name}-roots.pem` };
  await Deno.writeTextFile(files.cert, c.certChainPem.join(""));
  await Deno.writeTextFile(files.key, c.keyPem, { mode: 0o600 });
  await Deno.writeTextFile(files.roots, c.rootsPem.join(""));
  return files;
}

const certFlags = (c: PeerCertFiles) => ["-cert", c.cert, "-key", c.key, "-roots", c.roots];

/** One run of the peer: events from stdout, Istio's own log on stderr (shown when a wait fails). */
export class PeerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #events: LogCollector;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stderr: Promise<string>;

  constructor(bin: string, args: string[], readonly name: string) {
    this.#child = new Deno.Command(bin, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
    this.#events = new LogCollector(this.#child.stdout, name);
    this.#stdin = this.#child.stdin.getWriter();
    this.#stderr = new Response(this.#child.stderr).text();
  }

  get events(): PeerEvent[] {
    return this.#events.logs;
  }

  async waitFor(event: string, pred: (e: PeerEvent) => boolean = () => true, timeoutMs = 30_000) {
    return await this.#events.waitFor((e) => e.event === event && pred(e), timeoutMs);
  }

  /** Closes the peer's stdin: a holding client lets its connection go, a server stops. */
  async release(): Promise<void> {
    await this.#stdin.close().catch(() => {});
  }

  /** Waits for the exit (after `release` unless the peer ends by itself); its code and stderr. */
  async exit(): Promise<{ code: number; stderr: string }> {
    const [status, stderr] = await Promise.all([this.#child.status, this.#stderr, this.#events.done]);
    return { code: status.code, stderr };
  }

  async stop(): Promise<void> {
    await this.release();
    try {
      this.#child.kill("SIGTERM");
    } catch { /* exited */ }
    await this.exit();
  }
}

export interface ClientOptions {
  /** The HBONE server, `podIP:15008`. */
  readonly proxy: string;
  readonly authority: string;
  readonly certs: PeerCertFiles;
  readonly expectServerId: string;
  readonly send?: number;
  readonly seed?: number;
  /** Stop reading after this many bytes instead of at EOF (Istio's dialer cannot half-close). */
  readonly recvLimit?: number;
  /** Keep the process, and so its HBONE connection, until `release()`. */
  readonly hold?: boolean;
}

/** Istio's HBONE client: events `connect` {status, peer_identity, …} then `done` {sent, received, …}. */
export async function startIstioClient(o: ClientOptions): Promise<PeerProcess> {
  const args = [
    "client",
    "-proxy",
    o.proxy,
    "-authority",
    o.authority,
    "-expect-server-id",
    o.expectServerId,
    ...certFlags(o.certs),
    "-send",
    String(o.send ?? 0),
    "-seed",
    String(o.seed ?? 1),
    "-recv-limit",
    String(o.recvLimit ?? -1),
    ...(o.hold ? ["-hold"] : []),
  ];
  return new PeerProcess(await istioPeerBinary(), args, `istio client → ${o.authority}`);
}

/** Istio's HBONE server on `listen`: events `listening`, then per CONNECT `connect` and `closed`. */
export async function startIstioServer(listen: string, certs: PeerCertFiles): Promise<PeerProcess> {
  const p = new PeerProcess(
    await istioPeerBinary(),
    ["server", "-listen", listen, ...certFlags(certs)],
    "istio server",
  );
  await p.waitFor("listening", undefined, 10_000);
  return p;
}

/** How the peer's server parses these header values (a missing one is a header not sent). */
export async function parseHeadersWithPeer(h: {
  baggage?: string;
  forwarded?: string;
  traceparent?: string;
}): Promise<Record<string, Record<string, unknown>>> {
  const args = ["parse-headers"];
  for (const [k, v] of Object.entries(h)) if (v !== undefined) args.push(`-${k}`, v);
  const out = await new Deno.Command(await istioPeerBinary(), { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`parse-headers failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
