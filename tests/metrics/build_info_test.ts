import assert from "node:assert/strict";
import { Registry } from "../../lib/metrics/registry.ts";
import { registerBuildInfo } from "../../lib/metrics/build_info.ts";

Deno.test("istio_build is a constant 1 labelled component=ztunnel and the tag", () => {
  const r = new Registry();
  registerBuildInfo(r, "1.24.0");
  assert.ok(r.encode().includes('istio_build{component="ztunnel",tag="1.24.0"} 1\n'));
  assert.ok(r.encode().includes("# TYPE istio_build gauge\n"));
});
