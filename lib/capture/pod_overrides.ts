/**
 * A pod's own say in its in-pod rules, read from its annotations as istio-cni reads them
 * (cni/pkg/nodeagent/net.go getPodLevelTrafficOverrides): a boolean annotation counts only when Go's
 * strconv.ParseBool accepts it (1/t/T/TRUE/true/True, 0/f/F/FALSE/false/False); any other value is
 * ignored, as if absent. Pure.
 */

/** true = "ingress mode": inbound traffic is not captured (no probe accept, no 15006 redirect). */
export const BYPASS_INBOUND_CAPTURE_ANNOTATION = "ambient.istio.io/bypass-inbound-capture";
/** true/false overrides the node's DNS capture setting (AMBIENT_DNS_CAPTURE) for this pod. */
export const DNS_CAPTURE_ANNOTATION = "ambient.istio.io/dns-capture";
/** Comma list of interfaces whose inbound TCP is treated as outbound (VMs, DinD). */
export const REROUTE_VIRTUAL_INTERFACES_ANNOTATION = "istio.io/reroute-virtual-interfaces";

export interface PodOverrides {
  readonly ingressMode: boolean;
  /** undefined: the node's setting applies. */
  readonly dnsCapture?: boolean;
  readonly virtualInterfaces: readonly string[];
}

/** Go's strconv.ParseBool; undefined when it would fail. */
export function parseGoBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}

export function podOverrides(annotations: Readonly<Record<string, string>>): PodOverrides {
  const dnsCapture = parseGoBool(annotations[DNS_CAPTURE_ANNOTATION]);
  const virt = annotations[REROUTE_VIRTUAL_INTERFACES_ANNOTATION];
  return {
    ingressMode: parseGoBool(annotations[BYPASS_INBOUND_CAPTURE_ANNOTATION]) ?? false,
    ...(dnsCapture === undefined ? {} : { dnsCapture }),
    virtualInterfaces: virt === undefined ? [] : virt.split(",").map((s) => s.trim()).filter(Boolean),
  };
}
