/** The `direct` setup: lg straight to the sink, no proxy (the load generator's own ceiling). */
import type { SetupDef } from "./setup.ts";

export const DIRECT: SetupDef = {
  name: "direct",
  description: "lg → sink (no proxy)",
  start: (ctx) =>
    Promise.resolve({
      name: "direct",
      route: { target: ctx.sink },
      proxies: [],
      failure: () => undefined,
      stop: () => Promise.resolve(),
    }),
};
