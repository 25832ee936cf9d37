/**
 * Which demo runs (lib/cli/demo_mode.ts): in-pod where it can, loopback with the reason where it
 * cannot, a forced mode honoured, a forced in-pod demo refused with the reason; and `zt demo`'s usage.
 */
import assert from "node:assert/strict";
import { chooseDemoMode, demoModeFlag } from "../../lib/cli/demo_mode.ts";
import { DEMO_HELP, demoCommand } from "../../lib/cli/demo.ts";

Deno.test("demo mode: in-pod where it can run, else loopback saying why in one line", () => {
  assert.deepEqual(chooseDemoMode("auto", undefined), { mode: "inpod" });
  assert.deepEqual(chooseDemoMode("auto", "in-pod mode needs root"), {
    mode: "loopback",
    note: "in-pod mode needs root: running the loopback demo",
  });
});

Deno.test("demo mode: --loopback always loopback (no note); --inpod runs or is refused with the reason", () => {
  assert.deepEqual(chooseDemoMode("loopback", undefined), { mode: "loopback" });
  assert.deepEqual(chooseDemoMode("loopback", "in-pod mode needs root"), { mode: "loopback" });
  assert.deepEqual(chooseDemoMode("inpod", undefined), { mode: "inpod" });
  assert.deepEqual(chooseDemoMode("inpod", "in-pod mode needs nsenter on PATH"), {
    mode: "refused",
    reason: "in-pod mode needs nsenter on PATH",
  });
});

Deno.test("demo mode flags: at most one of --inpod and --loopback", () => {
  assert.equal(demoModeFlag({}), "auto");
  assert.equal(demoModeFlag({ inpod: true }), "inpod");
  assert.equal(demoModeFlag({ loopback: true }), "loopback");
  assert.match(demoModeFlag({ inpod: true, loopback: true }), /exclude each other/);
});

Deno.test("zt demo: --help prints the modes; unknown flags and both modes are usage errors (2)", async () => {
  const log = console.log;
  const err = console.error;
  const printed: string[] = [];
  console.log = (s: string) => printed.push(s);
  console.error = (s: string) => printed.push(s);
  try {
    assert.equal(await demoCommand(["--help"]), 0);
    assert.equal(printed.pop(), DEMO_HELP);
    assert.match(DEMO_HELP, /--inpod/);
    assert.match(DEMO_HELP, /--loopback/);
    assert.equal(await demoCommand(["--frobnicate"]), 2);
    assert.equal(await demoCommand(["--inpod", "--loopback"]), 2);
    assert.match(printed.pop()!, /exclude each other/);
  } finally {
    console.log = log;
    console.error = err;
  }
});
