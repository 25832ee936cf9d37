/** SECRET_TTL is bounded to a lifetime the CA can issue and zt can renew; others stop the node at start. */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/config.ts";
import { SECRET_TTL_BOUNDS_MS } from "../../lib/config/secret_ttl.ts";
import { ConfigError } from "../../lib/config/parse.ts";
import { runZt } from "../fakes/zt_node.ts";

const BASE = { LOCAL_XDS: "workloads: []", LOCAL_CA_DIR: "/nonexistent-zt-ca" };

Deno.test("SECRET_TTL from 1m to 90d is accepted", () => {
  assert.deepEqual(SECRET_TTL_BOUNDS_MS, { min: 60_000, max: 90 * 86_400_000 });
  for (const [v, ms] of [["1m", 60_000], ["60", 60_000], ["24h", 86_400_000], ["2160h", 90 * 86_400_000]]) {
    assert.equal(loadConfig({ ...BASE, SECRET_TTL: String(v) }).secretTtlMs, ms, String(v));
  }
});

Deno.test("SECRET_TTL too short to renew or longer than istiod issues is refused, naming the variable", () => {
  for (const v of ["1ms", "0", "0s", "59s", "59999ms", "90d1s", "91d", "8760h"]) {
    assert.throws(
      () => loadConfig({ ...BASE, SECRET_TTL: v }),
      (e) =>
        e instanceof ConfigError && e.variable === "SECRET_TTL" &&
        e.message.startsWith(
          `invalid SECRET_TTL=${JSON.stringify(v)}: expected a certificate lifetime from 1m to 90d`,
        ),
      v,
    );
  }
});

Deno.test("zt run with SECRET_TTL=1ms exits at start with a message naming SECRET_TTL", async () => {
  const r = await runZt(["run"], { ...BASE, SECRET_TTL: "1ms", INSTANCE_IP: "127.61.0.1" });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^zt: invalid SECRET_TTL="1ms": expected a certificate lifetime from 1m to 90d/m);
});
