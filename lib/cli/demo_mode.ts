/**
 * Which demo runs: in-pod mode where this machine can run it, loopback mode otherwise. `--inpod` and
 * `--loopback` force one; a forced in-pod demo that cannot run is refused with the reason. Pure.
 */

export type DemoModeFlag = "auto" | "inpod" | "loopback";

export type DemoModeChoice =
  | { readonly mode: "inpod" }
  /** `note`: the one line saying why in-pod mode was not taken. */
  | { readonly mode: "loopback"; readonly note?: string }
  | { readonly mode: "refused"; readonly reason: string };

/** `blocker`: why in-pod mode cannot run here (e.g. "in-pod mode needs root"), undefined when it can. */
export function chooseDemoMode(flag: DemoModeFlag, blocker: string | undefined): DemoModeChoice {
  if (flag === "loopback") return { mode: "loopback" };
  if (blocker === undefined) return { mode: "inpod" };
  if (flag === "inpod") return { mode: "refused", reason: blocker };
  return { mode: "loopback", note: `${blocker}: running the loopback demo` };
}

/** `--inpod` / `--loopback` (at most one) → the flag; an error text otherwise. */
export function demoModeFlag(values: { inpod?: boolean; loopback?: boolean }): DemoModeFlag | string {
  if (values.inpod && values.loopback) return "--inpod and --loopback exclude each other";
  if (values.inpod) return "inpod";
  if (values.loopback) return "loopback";
  return "auto";
}
