/**
 * What the in-pod demo makes and removes (lib/cli/demo_netns.ts), and whether it may run
 * (lib/cli/demo_inpod_probe.ts), as root with real namespaces under this test's own names and lock
 * file: everything recorded is removed (namespaces with the processes inside, /etc/netns directories,
 * the temp directory, the lock); a live demo's lock is refused; a dead demo's leftovers are removed by
 * the next claim; a removal waits for an add in flight; names taken by someone else block in-pod mode.
 */
import assert from "node:assert/strict";
import { DemoNamespaces, parseNetnsList, readDemoLock } from "../../lib/cli/demo_netns.ts";
import { inpodBlocker } from "../../lib/cli/demo_inpod_probe.ts";
import { netnsSkipReason } from "../fakes/netns.ts";

const SKIP = await netnsSkipReason(["ip", "sysctl"]);
if (SKIP) console.log(`demo_netns_test: skipped: ${SKIP}`);
const opts = { ignore: SKIP !== undefined, sanitizeOps: false, sanitizeResources: false };
const ns = (s: string) => `ztdn-${Deno.pid}-${s}`;

async function netnsList(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped", stderr: "null" })
    .output();
  return parseNetnsList(new TextDecoder().decode(out.stdout));
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

async function deadPid(): Promise<number> {
  const c = new Deno.Command("true").spawn();
  await c.status;
  return c.pid;
}

Deno.test("ip netns list lines → names", () => {
  assert.deepEqual(parseNetnsList("sleep (id: 3)\nnode-a\n\n"), ["sleep", "node-a"]);
});

Deno.test({
  name: "demo namespaces: each made thing is recorded in the lock; release removes all of it, once",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "zt-demo-netns-test-" });
    const lockPath = `${dir}.lock`;
    const owned = await DemoNamespaces.claim(dir, { lockPath });
    await owned.add(ns("a"), { "net.ipv4.ip_forward": "1" });
    await owned.add(ns("b"));
    assert.equal((await owned.must(ns("a"), ["sysctl", "-n", "net.ipv4.ip_forward"])).trim(), "1");
    const file = await owned.etcFile(ns("b"), "resolv.conf", "nameserver 10.96.0.10\n");
    assert.equal(await Deno.readTextFile(file), "nameserver 10.96.0.10\n");
    const sleeper = new Deno.Command("ip", { args: ["netns", "exec", ns("a"), "sleep", "60"] }).spawn();
    const lock = await readDemoLock(lockPath);
    assert.deepEqual(lock?.namespaces, [ns("a"), ns("b")]);
    assert.ok(lock?.etcNetns.includes(`/etc/netns/${ns("b")}`));
    assert.equal(lock?.pid, Deno.pid);

    assert.deepEqual(await owned.release(), []);
    assert.deepEqual(await owned.release(), []); // idempotent
    assert.equal((await sleeper.status).signal, "SIGKILL");
    const left = await netnsList();
    assert.ok(!left.includes(ns("a")) && !left.includes(ns("b")), left.join(" "));
    assert.ok(!(await exists(`/etc/netns/${ns("b")}`)));
    assert.ok(!(await exists(dir)) && !(await exists(lockPath)));
    await assert.rejects(owned.add(ns("c")), /being removed/);
    assert.ok(!(await netnsList()).includes(ns("c")));
  },
});

Deno.test({
  name: "demo namespaces: a live demo's lock is refused; a dead one's leftovers go with the next claim",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "zt-demo-netns-test-" });
    const lockPath = `${dir}.lock`;
    const first = await DemoNamespaces.claim(dir, { lockPath });
    await assert.rejects(DemoNamespaces.claim(dir, { lockPath }), /another zt demo \(pid \d+\) is running/);
    await first.add(ns("old"));
    const orphan = new Deno.Command("ip", { args: ["netns", "exec", ns("old"), "sleep", "60"] }).spawn();
    // The demo dies without cleaning up: its lock now names a dead pid.
    const lock = (await readDemoLock(lockPath))!;
    await Deno.writeTextFile(lockPath, JSON.stringify({ ...lock, pid: await deadPid() }));
    assert.equal(await inpodBlocker([ns("old")], undefined, lockPath), undefined, "a dead demo's names");
    const dir2 = await Deno.makeTempDir({ prefix: "zt-demo-netns-test-" });
    const reclaimed: string[][] = [];
    const next = await DemoNamespaces.claim(dir2, {
      lockPath,
      onReclaim: (old) => reclaimed.push(old.namespaces),
    });
    try {
      assert.deepEqual(reclaimed, [[ns("old")]]);
      assert.equal((await orphan.status).signal, "SIGKILL");
      assert.ok(!(await netnsList()).includes(ns("old")));
      assert.ok(!(await exists(dir)), "the dead demo's temp directory");
      assert.equal((await readDemoLock(lockPath))?.pid, Deno.pid);
    } finally {
      await next.release();
    }
  },
});

Deno.test({
  name: "demo namespaces: a release while an add is in flight removes that namespace too",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "zt-demo-netns-test-" });
    const owned = await DemoNamespaces.claim(dir, { lockPath: `${dir}.lock` });
    const adding = owned.add(ns("racing"));
    const released = owned.release();
    await adding;
    assert.deepEqual(await released, []);
    assert.ok(!(await netnsList()).includes(ns("racing")));
  },
});

Deno.test({
  name: "in-pod probe: names someone else's namespaces hold block in-pod mode, with the names",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "zt-demo-netns-test-" });
    const lockPath = `${dir}.lock`;
    const theirs = ns("theirs");
    await new Deno.Command("ip", { args: ["netns", "add", theirs] }).output();
    try {
      assert.equal(await inpodBlocker([ns("free")], undefined, lockPath), undefined);
      assert.equal(
        await inpodBlocker([ns("free"), theirs], undefined, lockPath),
        `in-pod mode needs the network namespace name(s) ${theirs}, which exist already`,
      );
      const live = await DemoNamespaces.claim(dir, { lockPath });
      assert.match(
        (await inpodBlocker([theirs], undefined, lockPath))!,
        new RegExp(`another zt demo \\(pid ${Deno.pid}\\) is running`),
      );
      await live.release();
    } finally {
      await new Deno.Command("ip", { args: ["netns", "del", theirs] }).output();
    }
  },
});
