import assert from "node:assert/strict";
import { adminAddress } from "../../lib/cli/admin_client.ts";

Deno.test("admin address: --admin, ADMIN_ADDR, a loopback node's INSTANCE_IP, else localhost (as ztunnel binds it)", () => {
  assert.equal(adminAddress("10.0.0.9:15000", { ADMIN_ADDR: "1.1.1.1:1" }), "10.0.0.9:15000");
  assert.equal(adminAddress(undefined, { ADMIN_ADDR: "127.0.0.1:25000" }), "127.0.0.1:25000");
  assert.equal(adminAddress(undefined, { INSTANCE_IP: "127.10.0.1" }), "127.10.0.1:15000");
  assert.equal(adminAddress(undefined, { INSTANCE_IP: "::1" }), "[::1]:15000");
  // In a real pod INSTANCE_IP is the pod's IP, where admin does not listen.
  assert.equal(adminAddress(undefined, { INSTANCE_IP: "10.244.1.7" }), "127.0.0.1:15000");
  assert.equal(adminAddress(undefined, {}), "127.0.0.1:15000");
});
