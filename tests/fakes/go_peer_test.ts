/** The Go-peer build helper: cache hits by source hash, one build for concurrent callers, no Go → skip. */
import assert from "node:assert/strict";
import { buildGoPeer, goAvailable } from "./go_peer.ts";

const GO = await goAvailable();

async function tinyModule(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "zt-go-peer-" });
  const mod = `${dir}/hello_peer`;
  await Deno.mkdir(mod);
  await Deno.writeTextFile(`${mod}/go.mod`, "module zt.test/hello_peer\n\ngo 1.22\n");
  await Deno.writeTextFile(`${mod}/main.go`, 'package main\n\nfunc main() { println("one") }\n');
  return dir;
}

async function run(path: string): Promise<string> {
  const out = await new Deno.Command(path, { stderr: "piped" }).output();
  return new TextDecoder().decode(out.stderr).trim();
}

Deno.test({
  name: "go peer: built once per source state, cached across calls, rebuilt when a source changes",
  ignore: !GO,
  async fn() {
    const dir = await tinyModule();
    const cacheDir = `${dir}/cache`;
    try {
      const [a, b] = await Promise.all([1, 2].map(() => buildGoPeer(`${dir}/hello_peer`, { cacheDir })));
      assert(a.kind === "built" && b.kind === "built");
      assert.equal(a.path, b.path);
      assert.deepEqual([a.cached, b.cached].sort(), [false, true], "concurrent callers: one build");
      assert(a.path.startsWith(`${cacheDir}/hello_peer-`));
      assert.equal(await run(a.path), "one");
      const again = await buildGoPeer(`${dir}/hello_peer`, { cacheDir });
      assert(again.kind === "built" && again.cached && again.path === a.path);

      await Deno.writeTextFile(
        `${dir}/hello_peer/main.go`,
        'package main\n\nfunc main() { println("two") }\n',
      );
      const changed = await buildGoPeer(`${dir}/hello_peer`, { cacheDir });
      assert(changed.kind === "built" && !changed.cached);
      assert.notEqual(changed.path, a.path);
      assert.equal(await run(changed.path), "two");
      assert.equal(await run(a.path), "one", "the old build stays under its own key");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("go peer: without a go command the result is a reason to skip, not an error", async () => {
  const dir = await tinyModule();
  try {
    const p = await buildGoPeer(`${dir}/hello_peer`, { go: `${dir}/no-such-go`, cacheDir: `${dir}/cache` });
    assert.deepEqual(p, { kind: "unavailable", reason: "`go` is not on PATH" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "go peer: a compile error fails loudly with go's message",
  ignore: !GO,
  async fn() {
    const dir = await tinyModule();
    try {
      await Deno.writeTextFile(
        `${dir}/hello_peer/main.go`,
        "package main\n\nfunc main() { undefinedThing() }\n",
      );
      await assert.rejects(
        buildGoPeer(`${dir}/hello_peer`, { cacheDir: `${dir}/cache` }),
        /undefined: undefinedThing/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
