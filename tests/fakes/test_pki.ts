/**
 * A throw-away PKI for tests: a temp dir initialised with initCaDir, the loaded BuiltinCa, and a
 * helper issuing leaves. Make two of them for "another CA"; pass trustDomain for "wrong trust domain".
 */
import { BuiltinCa, initCaDir } from "../../lib/identity/builtin_ca.ts";
import type { WorkloadCertificate } from "../../lib/identity/certificate.ts";

export interface IssueOptions {
  /** Defaults to the PKI's trust domain. */
  trustDomain?: string;
  /** Default one hour. */
  ttlMs?: number;
}

export interface TestPki {
  dir: string;
  ca: BuiltinCa;
  trustDomain: string;
  issue(ns: string, sa: string, opts?: IssueOptions): Promise<WorkloadCertificate>;
  cleanup(): Promise<void>;
}

export async function makeTestPki(opts: { trustDomain?: string } = {}): Promise<TestPki> {
  const trustDomain = opts.trustDomain ?? "cluster.local";
  const dir = await Deno.makeTempDir({ prefix: "zt-test-pki-" });
  await initCaDir(dir, { trustDomain, validityDays: 30 });
  const ca = await BuiltinCa.load(dir);
  return {
    dir,
    ca,
    trustDomain,
    issue: (namespace, serviceAccount, o = {}) =>
      ca.sign({ trustDomain: o.trustDomain ?? trustDomain, namespace, serviceAccount }, o.ttlMs ?? 3_600_000),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}
