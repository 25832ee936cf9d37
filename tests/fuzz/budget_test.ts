import fc from "fast-check";
import { fuzzParams } from "./budget.ts";

Deno.test("fuzz budget: a fixed seed gives the same cases twice", () => {
  const draw = () => fc.sample(fc.integer(), { seed: fuzzParams().seed, numRuns: 5 });
  const a = draw();
  const b = draw();
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${a} != ${b}`);
  if (!(fuzzParams().numRuns! >= 1)) throw new Error("no runs");
});
