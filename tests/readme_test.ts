/** The README's promises stay true to the code: its two commands, its tables, CI's command. */
import assert from "node:assert/strict";
import { SETTINGS } from "../lib/config/settings.ts";
import { COMMANDS } from "../main.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "${heading}" section`);
  const rest = readme.slice(start + heading.length + 5);
  const end = rest.search(/\n## /);
  const section = end >= 0 ? rest.slice(0, end) : rest;
  return section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| ---"))
    .slice(1).map((l) => l.split(" | ").map((c) => c.replace(/^\| |\|$/g, "").trim()));
}

Deno.test("README starts with exactly the demo and the test command", async () => {
  const first = /^# zt\n\n```sh\n([^`]*)```/.exec(readme);
  assert.ok(first, "a shell block right after the title");
  assert.deepEqual(first[1].trim().split("\n"), [
    "npx -y deno@2.9.6 task demo",
    "npx -y deno@2.9.6 task test",
  ]);
  const ci = await Deno.readTextFile(new URL("../.ci/run", import.meta.url));
  assert.match(ci, /^npx -y deno@2\.9\.6 task test$/m, ".ci/run runs the README's test command");
});

Deno.test("README's environment table is the settings zt reads", () => {
  const rows = tableAfter("Environment variables");
  const documented = rows.map((r) => r[0].replaceAll("`", ""));
  const flags = new Map(rows.map((r) => [r[0].replaceAll("`", ""), r[1].replaceAll("`", "")]));
  assert.deepEqual([...documented].sort(), SETTINGS.map((s) => s[0]).sort());
  for (const [env, flag] of SETTINGS) assert.equal(flags.get(env), `--${flag}`, env);
});

Deno.test("README's command table is the CLI", () => {
  const documented = tableAfter("Commands").map((r) => /^`zt ([a-z-]+)/.exec(r[0])?.[1]);
  assert.deepEqual([...new Set(documented)].sort(), Object.keys(COMMANDS).sort());
});
