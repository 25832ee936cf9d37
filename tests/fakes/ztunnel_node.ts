/**
 * The real ztunnel (istio/ztunnel's release binary, named by `ZTUNNEL_BIN`; never built here) as a peer
 * for zt: one ztunnel in dedicated mode (`PROXY_MODE=dedicated`, `PROXY_WORKLOAD_INFO=ns/name/sa`) inside
 * its own network namespace, since it binds its listeners on fixed ports ([::]:15008, 15001, 15006,
 * 15020, 15021 and 127.0.0.1:15000, 15053, 15080 for SOCKS5). Configured as ztunnel's Development.md has
 * it (`XDS_ADDRESS=""`, `LOCAL_XDS_PATH`), its certificates either from an Istio CA (`CA_ADDRESS`, e.g.
 * tests/fakes/fake_istiod.ts signing with zt's built-in CA) or its own `FAKE_CA`. Logs are JSON
 * (`LOG_FORMAT=json`) and collected for assertions.
 */
import * as grpc from "@grpc/grpc-js";
import * as x509 from "@peculiar/x509";
import { LogCollector, type LogRecord } from "../../lib/cli/log_collector.ts";
import type { BuiltinCa } from "../../lib/identity/builtin_ca.ts";
import { formatIdentity, type Identity, parseIdentity } from "../../lib/identity/spiffe.ts";
import { CaFailure, type CaHandler } from "./fake_istiod.ts";
import type { Netns } from "./netns.ts";

export type { LogRecord };

export const ZTUNNEL_BIN_ENV = "ZTUNNEL_BIN";

/** The binary named by ZTUNNEL_BIN, or why ztunnel cannot run here ("not run: set ZTUNNEL_BIN ..."). */
export function ztunnelBinary(
  bin: string | undefined = Deno.env.get(ZTUNNEL_BIN_ENV),
): { bin: string } | { skip: string } {
  if (!bin) {
    return { skip: `not run: set ${ZTUNNEL_BIN_ENV} to a ztunnel binary (istio/ztunnel's release build)` };
  }
  try {
    const st = Deno.statSync(bin);
    if (!st.isFile || ((st.mode ?? 0) & 0o111) === 0) {
      return { skip: `not run: ${ZTUNNEL_BIN_ENV}=${bin} is not an executable file` };
    }
  } catch (e) {
    return { skip: `not run: ${ZTUNNEL_BIN_ENV}=${bin}: ${e instanceof Error ? e.message : e}` };
  }
  return { bin };
}

/** The workload a dedicated-mode ztunnel serves (PROXY_WORKLOAD_INFO). */
export interface ZtunnelWorkload {
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
}

/** Where ztunnel's certificates come from. */
export type ZtunnelCa =
  | { readonly kind: "fake" }
  | { readonly kind: "istio"; readonly address: string; readonly rootCertPath: string };

export interface ZtunnelNodeOptions {
  readonly netns: Netns;
  /** The namespace ztunnel runs in (loopback up, `ip` reachable from the test's namespace). */
  readonly ns: string;
  readonly name: string;
  readonly bin: string;
  /** The workload's IP inside `ns`: readiness (:15021) is probed there. */
  readonly ip: string;
  readonly workload: ZtunnelWorkload;
  readonly configPath: string;
  readonly ca: ZtunnelCa;
  /** ztunnel's SOCKS5 entry on 127.0.0.1:15080 inside `ns` (default on). */
  readonly socks5?: boolean;
  /** RUST_LOG (default "info": access logs are info). */
  readonly logLevel?: string;
  readonly env?: Record<string, string>;
}

/** ztunnel's environment for `o` (exported so the bench and the tests start it the same way). */
export function ztunnelEnv(
  o: Omit<ZtunnelNodeOptions, "netns" | "ns" | "bin" | "name" | "ip">,
): Record<string, string> {
  const w = o.workload;
  return {
    PROXY_MODE: "dedicated",
    PROXY_WORKLOAD_INFO: `${w.namespace}/${w.name}/${w.serviceAccount}`,
    XDS_ADDRESS: "",
    LOCAL_XDS_PATH: o.configPath,
    ...(o.ca.kind === "fake"
      ? { FAKE_CA: "true" }
      : { CA_ADDRESS: o.ca.address, CA_ROOT_CA: o.ca.rootCertPath }),
    ...(o.socks5 === false ? {} : { UNSTABLE_ENABLE_SOCKS5: "true" }),
    // As upstream's own dedicated-mode tests run it: no spoofed client source toward the app, whose
    // replies to a peer's address would leave through the veth instead of coming back (no table-100 rule).
    ENABLE_ORIG_SRC: "false",
    LOG_FORMAT: "json",
    RUST_LOG: o.logLevel ?? "info",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    ...o.env,
  };
}

export class ZtunnelNode {
  readonly child: Deno.ChildProcess;
  /** Its log (JSON lines on stdout), and stderr (a startup error and its backtrace). */
  readonly #logs: LogCollector;
  readonly #stderr: LogCollector;
  #exited = false;

  constructor(readonly opts: ZtunnelNodeOptions) {
    this.child = opts.netns.spawn(opts.ns, [opts.bin], ztunnelEnv(opts));
    this.child.status.then(() => (this.#exited = true));
    const verbose = Deno.env.get("ZT_TEST_VERBOSE")
      ? (l: LogRecord) => console.error(`[${opts.name}] ${JSON.stringify(l)}`)
      : undefined;
    this.#logs = new LogCollector(this.child.stdout, opts.name, verbose);
    this.#stderr = new LogCollector(this.child.stderr, `${opts.name} stderr`, verbose);
  }

  get name(): string {
    return this.opts.name;
  }

  get logs(): LogRecord[] {
    return this.#logs.logs;
  }

  /** The first log record matching `pred` at index ≥ `from`, already seen or arriving within `timeoutMs`. */
  waitForLog(pred: (l: LogRecord) => boolean, timeoutMs = 10_000, from = 0): Promise<LogRecord> {
    return this.#logs.waitFor(pred, timeoutMs, from);
  }

  /** Waits until ztunnel's readiness probe answers 200; throws with its log if it exits or times out. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline && !this.#exited) {
      try {
        const res = await fetch(`http://${this.opts.ip}:15021/healthz/ready`, {
          signal: AbortSignal.timeout(1000),
        });
        last = `${res.status} ${(await res.text()).trim()}`;
        if (res.status === 200) return;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} is not ready (${this.#exited ? "exited" : last}):\n${this.dump()}`);
  }

  /** ztunnel's /config_dump (admin listens on 127.0.0.1 inside its namespace, so it is read from there). */
  async configDump(): Promise<Record<string, unknown>> {
    const r = await this.opts.netns.run(this.opts.ns, [
      "curl",
      "-sS",
      "--max-time",
      "5",
      "http://127.0.0.1:15000/config_dump",
    ]);
    if (r.code !== 0) throw new Error(`${this.name}: config_dump: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
  }

  /** All log lines as JSON lines, then stderr (for failure messages). */
  dump(): string {
    return [this.#logs.dump(), this.#stderr.dump()].filter(Boolean).join("\n");
  }

  /** Graceful stop (SIGTERM); resolves with the exit code once its log is read to the end. */
  async stop(): Promise<number> {
    if (!this.#exited) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    const s = await this.child.status;
    clearTimeout(timer);
    await Promise.all([this.#logs.done, this.#stderr.done]);
    return s.code;
  }
}

/** The SPIFFE identity in a PKCS#10 request's URI SAN (what ztunnel's CSR carries), if exactly one. */
export function csrIdentity(csrPem: string): Identity | undefined {
  const req = new x509.Pkcs10CertificateRequest(csrPem);
  const san = req.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension);
  const uris = san?.names.items.filter((n) => n.type === "url").map((n) => n.value) ?? [];
  return uris.length === 1 ? parseIdentity(uris[0]) : undefined;
}

/**
 * A CA handler for ztunnel in dedicated mode, which sends no ImpersonatedIdentity: the identity is the
 * CSR's URI SAN (istiod would take it from the caller's token and check the CSR against it). Only the
 * identities in `allowed` are signed; anything else is refused with PERMISSION_DENIED.
 */
export function csrIdentityCaHandler(ca: BuiltinCa, allowed: readonly string[]): CaHandler {
  return (req) => {
    const id = csrIdentity(req.csr);
    if (!id || !allowed.includes(formatIdentity(id))) {
      const what = id ? formatIdentity(id) : "(no SPIFFE URI SAN)";
      return Promise.reject(
        new CaFailure(grpc.status.PERMISSION_DENIED, `identity ${what} is not allowed here`),
      );
    }
    return ca.signCsr(req.csr, id, req.validityDuration * 1000);
  };
}
