/**
 * The fuzzers' budget: a fixed seed and a small number of runs inside `deno task test` (fast, repeatable),
 * more under `deno task fuzz` (FUZZ_RUNS), and a chosen seed to replay a failure (FUZZ_SEED).
 */
import fc from "fast-check";

const DEFAULT_RUNS = 300;
const DEFAULT_SEED = 20261204;

/** fast-check parameters for one property: same seed every run unless FUZZ_SEED says otherwise. */
export function fuzzParams<T>(scale = 1): fc.Parameters<T> {
  const runs = Number(Deno.env.get("FUZZ_RUNS") ?? DEFAULT_RUNS);
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? DEFAULT_SEED);
  return { numRuns: Math.max(1, Math.round(runs * scale)), seed, endOnFailure: true };
}
