import { deepEqual } from "node:assert/strict";
import { rankServices } from "../../lib/state/rank_services.ts";
import { service } from "./fixtures.ts";

Deno.test("rankServices: the client's namespace, then canonical, then by key; Namespace-visible ones only at home", () => {
  const mine = service({ name: "s", namespace: "client", canonical: false });
  const canonical = service({ name: "s", namespace: "other", canonical: true });
  const b = service({ name: "s", namespace: "b", canonical: false });
  const a = service({ name: "s", namespace: "a", canonical: false });
  const hidden = service({ name: "s", namespace: "private", visibility: "Namespace" });
  const all = [b, hidden, a, canonical, mine];
  const ns = (list: { namespace: string }[]) => list.map((s) => s.namespace);
  deepEqual(ns(rankServices(all, "client")), ["client", "other", "a", "b"]);
  deepEqual(ns(rankServices(all)), ["other", "a", "b", "client"]);
  deepEqual(ns(rankServices(all, "private")), ["private", "other", "a", "b", "client"]);
});
