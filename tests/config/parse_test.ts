/** The value parsers of lib/config/parse.ts. */
import assert from "node:assert/strict";
import { parseBytes, parseDuration } from "../../lib/config/parse.ts";

Deno.test("durations and sizes", () => {
  assert.equal(parseDuration("X", "1h30m"), 5_400_000);
  assert.equal(parseDuration("X", "250ms"), 250);
  assert.equal(parseDuration("X", "10"), 10_000);
  assert.throws(() => parseDuration("X", "10 parsecs"));
  assert.equal(parseBytes("X", "4Mi"), 4 * 1024 * 1024);
  assert.equal(parseBytes("X", "64Ki"), 65536);
});
