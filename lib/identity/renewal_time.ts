/**
 * When a workload certificate is renewed: at half of its real lifetime. Counting from the backdated
 * notBefore, as ztunnel's `refresh_at` does (notBefore + (notAfter − notBefore) / 2), would put the
 * renewal of a short-lived certificate in the past: istiod backdates by 2 minutes, the built-in CA by 1.
 */
import type { WorkloadCertificate } from "./certificate.ts";

/**
 * When to renew `cert`: halfway between the start of its real lifetime and its notAfter. The start is the
 * source's `issuedAt`, else `requestedAt` (when the fetch began), but never before notBefore. So a
 * backdated notBefore does not count, and a lifetime the CA shortened is halved as issued.
 */
export function renewalTime(cert: WorkloadCertificate, requestedAt: number): number {
  const start = lifetimeStart(cert, requestedAt);
  return start + (cert.notAfter.getTime() - start) / 2;
}

/** The start of `cert`'s real lifetime: issuedAt, else `requestedAt`, within [notBefore, notAfter]. */
export function lifetimeStart(cert: WorkloadCertificate, requestedAt: number): number {
  const start = Math.max(cert.notBefore.getTime(), cert.issuedAt?.getTime() ?? requestedAt);
  return Math.min(start, cert.notAfter.getTime());
}
