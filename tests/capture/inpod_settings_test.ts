/** istio-cni's node-wide in-pod settings: flags over its environment names over its defaults. */
import assert from "node:assert/strict";
import { inpodSettings } from "../../lib/capture/inpod_settings.ts";
import { DEFAULT_INPOD_SETTINGS, inpodRestoreText } from "../../lib/capture/inpod_rules.ts";
import { ZtError } from "../../lib/error.ts";

Deno.test("in-pod settings: flag, else AMBIENT_* / HOST_PROBE_SNAT_* env, else istio-cni's defaults", () => {
  assert.deepEqual(inpodSettings({}, {}), DEFAULT_INPOD_SETTINGS);
  const env = {
    AMBIENT_DNS_CAPTURE: "false",
    AMBIENT_IPV6: "0",
    HOST_PROBE_SNAT_IP: "169.254.9.9",
    HOST_PROBE_SNAT_IPV6: "fd00::9",
  };
  assert.deepEqual(inpodSettings({}, env), {
    dnsCapture: false,
    ipv6: false,
    hostProbeSnatIp: "169.254.9.9",
    hostProbeSnatIpv6: "fd00::9",
  });
  assert.equal(inpodSettings({ dnsCapture: "true", ipv6: "T" }, env).dnsCapture, true);
  assert.equal(inpodSettings({ dnsCapture: "true", ipv6: "T" }, env).ipv6, true);
  assert.match(
    inpodRestoreText(4, inpodSettings({}, env), { ingressMode: false, virtualInterfaces: [] }),
    /^-A ISTIO_PRERT -s 169\.254\.9\.9 -p tcp -m tcp -j ACCEPT$/m,
  );
  assert.throws(
    () => inpodSettings({ ipv6: "yes" }, {}),
    (e) => e instanceof ZtError && e.kind === "config" && /--ipv6 \(AMBIENT_IPV6\): "yes"/.test(e.message),
  );
  assert.throws(() => inpodSettings({}, { AMBIENT_DNS_CAPTURE: "on" }), /AMBIENT_DNS_CAPTURE/);
});
