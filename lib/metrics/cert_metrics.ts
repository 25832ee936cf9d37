/**
 * Certificate metrics (zt's own; ztunnel has none): per identity, the leaf's expiry time
 * (`zt_certificate_expiration_timestamp_seconds{identity}`) and whether a certificate is
 * available (`zt_certificate_available{identity}`, 1 or 0), both read from the cert manager's
 * config_dump entries at scrape.
 */
import type { Registry } from "./registry.ts";

/** The part of a config_dump `certificates` entry these metrics read. */
export interface CertificateEntryLike {
  readonly identity: string;
  readonly state: string;
  readonly certChain: readonly { readonly expirationTime: string }[];
}

export function registerCertificateMetrics(
  registry: Registry,
  certificates: () => readonly CertificateEntryLike[],
): void {
  registry.callbackGauge({
    name: "zt_certificate_expiration_timestamp_seconds",
    help: "Expiry of the leaf workload certificate, seconds since the unix epoch.",
    labelNames: ["identity"],
    collect: () => {
      const out: [string[], number][] = [];
      for (const c of certificates()) {
        const leaf = c.certChain[0];
        const t = leaf ? Date.parse(leaf.expirationTime) : NaN;
        if (Number.isFinite(t)) out.push([[c.identity], Math.floor(t / 1000)]);
      }
      return out;
    },
  });
  registry.callbackGauge({
    name: "zt_certificate_available",
    help: "1 when a workload certificate is available for the identity, else 0.",
    labelNames: ["identity"],
    collect: () => certificates().map((c) => [[c.identity], c.state === "Available" ? 1 : 0] as const),
  });
}
