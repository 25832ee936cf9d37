import assert from "node:assert/strict";
import { BACKGROUND, FetchQueue, REALTIME, WARMUP } from "../../lib/identity/fetch_queue.ts";

/** A queue whose fetches the test finishes by hand. */
function scripted(max: number) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const q = new FetchQueue<string>(max, (item) => {
    started.push(item);
    const d = Promise.withResolvers<void>();
    finish.set(item, d.resolve);
    return d.promise;
  });
  const done = async (item: string) => {
    finish.get(item)!();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { q, started, done };
}

Deno.test("fetch queue: at most maxConcurrent run; the rest start by priority, each in arrival order", async () => {
  const { q, started, done } = scripted(2);
  q.enqueue("bg1", BACKGROUND);
  q.enqueue("bg2", BACKGROUND);
  q.enqueue("bg3", BACKGROUND);
  q.enqueue("warm", WARMUP);
  q.enqueue("rt1", REALTIME);
  q.enqueue("rt2", REALTIME);
  assert.deepEqual(started, ["bg1", "bg2"]);
  await done("bg1");
  assert.deepEqual(started, ["bg1", "bg2", "rt1"]);
  await done("bg2");
  await done("rt1");
  assert.deepEqual(started, ["bg1", "bg2", "rt1", "rt2", "warm"]);
  await done("rt2");
  assert.deepEqual(started.at(-1), "bg3");
});

Deno.test("fetch queue: enqueue raises a queued item's priority, never lowers it, and ignores running ones", async () => {
  const { q, started, done } = scripted(1);
  q.enqueue("running", WARMUP);
  q.enqueue("a", BACKGROUND);
  q.enqueue("b", WARMUP);
  q.enqueue("a", REALTIME);
  q.enqueue("b", BACKGROUND);
  q.enqueue("running", REALTIME);
  assert.equal(q.isQueued("running"), false);
  await done("running");
  assert.deepEqual(started, ["running", "a"]);
  await done("a");
  assert.deepEqual(started, ["running", "a", "b"], "each item runs once");
});

Deno.test("fetch queue: remove takes a waiting item out; close drops the waiting ones and starts nothing more", async () => {
  const { q, started, done } = scripted(1);
  q.enqueue("running", REALTIME);
  q.enqueue("a", WARMUP);
  q.enqueue("b", WARMUP);
  assert.equal(q.remove("a"), true);
  assert.equal(q.remove("a"), false);
  assert.equal(q.remove("running"), false, "a running item is not queued");
  assert.equal(q.isQueued("b"), true);
  q.close();
  assert.equal(q.isQueued("b"), false);
  q.enqueue("c", REALTIME);
  await done("running");
  assert.deepEqual(started, ["running"]);
});
