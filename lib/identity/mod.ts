/** zt's identity layer: SPIFFE identities, workload certificates, CSRs, the built-in CA, rotation. */
export { formatIdentity, type Identity, parseIdentity, sameIdentity } from "./spiffe.ts";
export {
  type CertDump,
  certDump,
  certIdentity,
  type CertInfo,
  derToPem,
  exportKeyPem,
  normalizeSerial,
  parseCertificate,
  parseCertInfo,
  rfc3339,
  splitPemBundle,
  uriSans,
  type WorkloadCertificate,
  workloadCertificateFromChain,
} from "./certificate.ts";
export { createCsr, type Csr } from "./csr.ts";
export { BuiltinCa, CA_FILES, initCaDir, type InitCaOptions } from "./builtin_ca.ts";
export {
  type CertChange,
  CertManager,
  type CertManagerOptions,
  type CertsDump,
  type CertSource,
} from "./cert_manager.ts";
export { type CertState, INITIAL_BACKOFF_MS, MAX_TIMER_MS, MIN_REFRESH_MS } from "./cert_entry.ts";
export { type Clock, systemClock } from "./clock.ts";
export { lifetimeStart, renewalTime } from "./renewal_time.ts";
