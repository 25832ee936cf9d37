/** zt's V8 flag is one setting: permissions.txt (the binary's flags), the deno tasks and child nodes agree. */
import assert from "node:assert/strict";
import { ztPermissions } from "./fakes/permissions.ts";
import { ZT_V8_FLAGS, ztCommand } from "../lib/cli/node_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("runtime flags: permissions.txt carries zt's V8 flag, once", () => {
  const v8 = ztPermissions().filter((f) => f.startsWith("--v8-flags="));
  assert.deepEqual(v8, [ZT_V8_FLAGS]);
});

Deno.test("runtime flags: `deno task zt` and `deno task demo` run with the same V8 flag", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks as Record<string, string>;
  for (const name of ["zt", "demo"]) {
    assert.ok(tasks[name].split(/\s+/).includes(ZT_V8_FLAGS), `task ${name}: ${tasks[name]}`);
  }
});

Deno.test("runtime flags: nodes started from source get the V8 flag by default", () => {
  assert.ok(ztCommand().args.includes(ZT_V8_FLAGS));
});
