import { deepEqual, equal } from "node:assert/strict";
import { LoadBalancerState, preferLocality } from "../../lib/state/load_balancer.ts";
import type { LoadBalancer } from "../../lib/state/types.ts";
import { workload } from "./fixtures.ts";

function picks(weights: Record<string, number>, n: number, lb = new LoadBalancerState()): string[] {
  const cands = Object.entries(weights).map(([id, weight]) => ({ id, weight, item: id }));
  return Array.from({ length: n }, () => lb.pick("svc", cands) ?? "-");
}

Deno.test("smooth weighted round robin is deterministic and interleaves by weight", () => {
  const cases: Array<[Record<string, number>, number, string]> = [
    [{ a: 1, b: 1 }, 4, "abab"],
    [{ a: 2, b: 1 }, 6, "abaaba"],
    [{ a: 5, b: 1, c: 1 }, 7, "aabacaa"],
    [{ a: 0, b: 1 }, 3, "bbb"],
    [{ a: 0 }, 2, "--"],
    [{}, 1, "-"],
  ];
  for (const [weights, n, want] of cases) equal(picks(weights, n).join(""), want, JSON.stringify(weights));
});

Deno.test("cursors are per key and survive candidate set changes", () => {
  const lb = new LoadBalancerState();
  const two = [{ id: "a", weight: 1, item: "a" }, { id: "b", weight: 1, item: "b" }];
  equal(lb.pick("x", two), "a");
  equal(lb.pick("y", two), "a");
  equal(lb.pick("x", two), "b");
  // a third endpoint joins: still fair over the next window
  const three = [...two, { id: "c", weight: 1, item: "c" }];
  deepEqual([lb.pick("x", three), lb.pick("x", three), lb.pick("x", three)].sort(), ["a", "b", "c"]);
  lb.forget("x");
  equal(lb.pick("x", two), "a");
});

Deno.test("preferLocality ranks by leading routing preferences", () => {
  const src = workload({ name: "src", node: "n1", locality: { region: "r1", zone: "z1", subzone: "" } });
  const sameZone = {
    workload: workload({ name: "a", node: "n2", locality: { region: "r1", zone: "z1", subzone: "" } }),
  };
  const sameRegion = {
    workload: workload({ name: "b", node: "n3", locality: { region: "r1", zone: "z2", subzone: "" } }),
  };
  const far = {
    workload: workload({ name: "c", node: "n4", locality: { region: "r2", zone: "z1", subzone: "" } }),
  };
  const eps = [sameZone, sameRegion, far];
  const lb = (mode: LoadBalancer["mode"], prefs: LoadBalancer["routingPreferences"]): LoadBalancer => ({
    mode,
    routingPreferences: prefs,
    healthPolicy: "OnlyHealthy",
  });
  const names = (xs: typeof eps) => xs.map((x) => x.workload.name);
  deepEqual(names(preferLocality(undefined, src, eps)), ["a", "b", "c"]);
  deepEqual(names(preferLocality(lb("UnspecifiedMode", ["Region"]), src, eps)), ["a", "b", "c"]);
  deepEqual(names(preferLocality(lb("Failover", ["Region", "Zone"]), src, eps)), ["a"]);
  deepEqual(names(preferLocality(lb("Failover", ["Region", "Zone"]), src, [sameRegion, far])), ["b"]);
  deepEqual(names(preferLocality(lb("Failover", ["Region", "Zone"]), src, [far])), ["c"]);
  deepEqual(names(preferLocality(lb("Strict", ["Region", "Zone"]), src, [sameRegion, far])), []);
  deepEqual(names(preferLocality(lb("Strict", ["Node"]), src, eps)), []);
});
