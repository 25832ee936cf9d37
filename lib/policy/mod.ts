/** L4 authorization: the model, ztunnel's evaluation, config_dump shape and Istio YAML conversion. */
export * from "./model.ts";
export { cidrContains, formatCidr, formatIp, parseCidr, parseIp, tryParseCidr } from "./cidr.ts";
export type { IpAddress } from "./cidr.ts";
export { formatStringMatch, matchPrincipal, matchString, stringMatchFromIstio } from "./string_match.ts";
export {
  allowedReason,
  applicablePolicies,
  deniedReason,
  evaluate,
  PolicyIndex,
  REASON_NO_ALLOW_POLICIES,
  REASON_NOT_ALLOWED,
} from "./evaluate.ts";
export type { ApplicablePolicy, AppliesVia } from "./evaluate.ts";
export { explain, formatExplanation } from "./explain.ts";
export type { ExplainedPolicy, Explanation } from "./explain.ts";
export {
  matchToDump,
  parseMatch,
  parsePolicy,
  parseStringMatch,
  policyToDump,
  stringMatchToDump,
} from "./dump.ts";
export type { PolicyDump, StringMatchDump } from "./dump.ts";
export { bindPolicies, convertIstioDocuments, SECURITY_API_VERSIONS } from "./convert_istio.ts";
export type { IstioConversion, IstioConversionOptions } from "./convert_istio.ts";
export type { BindableWorkload, Bound } from "./bind_policies.ts";
export type { DocMeta, MtlsMode, PeerAuthn, PolicySelector } from "./istio_resources.ts";
export { DRY_RUN_ANNOTATION } from "./convert_authorization_policy.ts";
export {
  CONVERTED_PEER_AUTHENTICATION_PREFIX,
  STATIC_STRICT_POLICY_NAME,
  staticStrictPolicy,
} from "./convert_peer_authentication.ts";
