/** The glitch token bucket: a burst, then refilled by elapsed time up to the burst, never beyond. */
import assert from "node:assert/strict";
import { FloodBudget } from "../../../lib/tunnel/h2/flood_budget.ts";

Deno.test("flood budget: burst, refill at the rate, capped at the burst; a failed spend takes nothing", () => {
  let now = 0;
  const b = new FloodBudget(10, 100, () => now); // 100 tokens per second
  for (let i = 0; i < 10; i++) assert.ok(b.spend());
  assert.ok(!b.spend(), "the burst is spent");
  now += 50; // 5 tokens back
  assert.ok(b.spend(5));
  assert.ok(!b.spend());
  now += 10_000;
  assert.ok(!b.spend(11), "never more than the burst");
  assert.ok(b.spend(10));
});

Deno.test("flood budget: rate 0 is a fixed allowance", () => {
  let now = 0;
  const b = new FloodBudget(3, 0, () => now);
  assert.ok(b.spend(3));
  now += 1e9;
  assert.ok(!b.spend());
});
