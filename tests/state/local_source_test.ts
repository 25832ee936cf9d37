import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import type { LocalConfig } from "../../lib/state/local_config.ts";
import { LocalConfigSource } from "../../lib/state/local_source.ts";
import { capture, ipsOf, sleep, source, waitFor, workloads } from "./local_source_fixtures.ts";

Deno.test("LocalConfigSource applies valid changes, rejects invalid ones and keeps the last good config", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  const { log, lines } = capture();
  const seen: LocalConfig[] = [];
  const src = new LocalConfigSource({ path, log, onConfig: (c) => seen.push(c), debounceMs: 50 });
  try {
    await Deno.writeTextFile(path, workloads("10.0.0.1"));
    const first = await src.start();
    deepEqual(first.workloads.map((w) => w.workloadIps[0]), ["10.0.0.1"]);
    equal(seen.length, 0);

    await Deno.writeTextFile(path, workloads("10.0.0.1", "10.0.0.2"));
    await waitFor("first reload", () => seen.length === 1);
    deepEqual(seen[0].workloads.map((w) => w.workloadIps[0]), ["10.0.0.1", "10.0.0.2"]);

    await Deno.writeTextFile(path, workloads("10.0.0.1", "10.0.0.x"));
    await waitFor("rejection log", () => lines.some((l) => l.includes("rejected")));
    const rejection = lines.find((l) => l.includes("rejected"))!;
    ok(rejection.includes("\terror\tconfig\t"), rejection);
    ok(rejection.includes('workloads[1].workloadIps[0]: invalid IP \\"10.0.0.x\\"'), rejection);
    equal(seen.length, 1);
    equal(src.current?.workloads.length, 2);

    // an atomic replace (write + rename), as editors and ConfigMap updates do
    await Deno.writeTextFile(`${dir}/tmp`, workloads("10.0.0.1", "10.0.0.2", "10.0.0.3"));
    await Deno.rename(`${dir}/tmp`, path);
    await waitFor("second reload", () => seen.length === 2);
    deepEqual(seen[1].workloads.map((w) => w.workloadIps[0]), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    equal(src.current, seen[1]);
  } finally {
    await src.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalConfigSource watches a directory", async () => {
  const dir = await Deno.makeTempDir();
  const { log } = capture();
  const seen: LocalConfig[] = [];
  const src = new LocalConfigSource({ path: dir, log, onConfig: (c) => seen.push(c), debounceMs: 30 });
  try {
    await Deno.writeTextFile(`${dir}/a.yaml`, workloads("10.0.0.1"));
    equal((await src.start()).workloads.length, 1);
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      `services:\n- {name: s, namespace: ns, hostname: s.ns.svc.cluster.local, vips: ["/10.96.0.1"], ports: {80: 8080}}\n`,
    );
    await waitFor("reload", () => seen.length === 1);
    equal(seen[0].services.length, 1);
    equal(seen[0].workloads.length, 1);
  } finally {
    await src.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalConfigSource.start fails on a bad file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  try {
    await Deno.writeTextFile(
      path,
      `workloads:\n- {name: a, namespace: ns, workloadIps: [], serviceaccount: x}\n`,
    );
    const src = new LocalConfigSource({ path, log: capture().log, onConfig: () => {} });
    await rejects(src.start(), (e: unknown) => {
      ok(e instanceof ZtError && e.kind === "config");
      equal(e.message, `${path}: workloads[0]: unknown field "serviceaccount"`);
      return true;
    });
    await src.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalConfigSource: a half-written file is rejected once, the last good config kept", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  const { src, seen, failures, lines } = source(path);
  try {
    await Deno.writeTextFile(path, workloads("10.0.0.1"));
    await src.start();
    await Deno.writeTextFile(path, workloads("10.0.0.1", "10.0.0.2").slice(0, 70));
    await waitFor("the rejection", () => failures.includes("invalid"));
    await sleep(300); // the re-read after the backoff finds the same content: not reported again
    deepEqual(failures, ["invalid"]);
    equal(lines.filter((l) => l.includes("local config rejected")).length, 1);
    deepEqual(ipsOf(src.current), ["10.0.0.1"]);
    equal(seen.length, 0);

    await Deno.writeTextFile(path, workloads("10.0.0.1", "10.0.0.2"));
    await waitFor("the completed file", () => seen.length === 1);
    deepEqual(ipsOf(seen[0]), ["10.0.0.1", "10.0.0.2"]);
  } finally {
    await src.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalConfigSource: a truncated file is not applied unless it stays empty", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  const { src, seen, failures, lines } = source(path, { retryMs: 400 });
  try {
    await Deno.writeTextFile(path, workloads("10.0.0.1"));
    await src.start();
    // Truncated, then written: the empty moment in between is never applied.
    await Deno.truncate(path);
    await waitFor("the empty read", () => lines.some((l) => l.includes("has an empty file")));
    await Deno.writeTextFile(path, workloads("10.0.0.1", "10.0.0.2"));
    await waitFor("the written file", () => seen.length === 1);
    deepEqual(seen.map(ipsOf), [["10.0.0.1", "10.0.0.2"]]);

    // Emptied for good: applied once it reads empty again after the backoff.
    await Deno.truncate(path);
    await waitFor("the empty config", () => seen.length === 2, 3_000);
    deepEqual(ipsOf(seen[1]), []);
    deepEqual(failures, []);
  } finally {
    await src.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalConfigSource: a missing file is retried with a backoff until it is back", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  const { src, seen, failures, lines } = source(path);
  try {
    await Deno.writeTextFile(path, workloads("10.0.0.1"));
    await src.start();
    await Deno.remove(path);
    // One file event, then the retries: 50, 100, 200, 200 ms ...
    await waitFor("three failed reads", () => failures.filter((f) => f === "read").length >= 3);
    deepEqual(ipsOf(src.current), ["10.0.0.1"]);
    const errors = lines.filter((l) => l.includes("local config unreadable"));
    equal(errors.length, 1, "logged once at error level; repeats are counted");
    ok(errors[0].includes("\terror\tconfig\t") && /No such file/.test(errors[0]), errors[0]);

    await Deno.writeTextFile(path, workloads("10.0.0.3"));
    await waitFor("the file back", () => seen.length === 1);
    deepEqual(ipsOf(seen[0]), ["10.0.0.3"]);
    ok(lines.some((l) => l.includes("local config readable again")));
  } finally {
    await src.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalConfigSource: a failed read with no file event after it is retried until it works", async () => {
  const dir = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir(); // not watched: changes there make no event
  const { src, seen, failures } = source(dir);
  try {
    await Deno.writeTextFile(`${dir}/a.yaml`, workloads("10.0.0.1"));
    await src.start();
    // A ConfigMap-style symlink whose target is not there yet: the read fails.
    await Deno.symlink(`${elsewhere}/b.yaml`, `${dir}/b.yaml`);
    await waitFor("the failed read", () => failures.includes("read"));
    await Deno.writeTextFile(
      `${elsewhere}/b.yaml`,
      `workloads:\n- {name: b, namespace: ns, workloadIps: ["10.0.0.2"]}\n`,
    );
    await waitFor("the retried read", () => seen.length === 1);
    deepEqual(ipsOf(seen[0]), ["10.0.0.1", "10.0.0.2"]);
  } finally {
    await src.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("LocalConfigSource: the watch is re-established when its directory is removed and comes back", async () => {
  const parent = await Deno.makeTempDir();
  const dir = `${parent}/conf`;
  await Deno.mkdir(dir);
  const { src, seen, failures, lines } = source(dir);
  try {
    await Deno.writeTextFile(`${dir}/a.yaml`, workloads("10.0.0.1"));
    await src.start();
    await Deno.remove(dir, { recursive: true });
    await waitFor("the lost watch", () => failures.includes("watch"));
    deepEqual(ipsOf(src.current), ["10.0.0.1"]);
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/a.yaml`, workloads("10.0.0.2"));
    await waitFor("the new directory's config", () => seen.length === 1);
    await waitFor("the new watch", () => lines.some((l) => l.includes("watch re-established")));
    // Changes in the new directory arrive by the new watch.
    await Deno.writeTextFile(`${dir}/a.yaml`, workloads("10.0.0.3"));
    await waitFor("a change seen by the new watch", () => seen.length === 2);
    deepEqual(seen.map(ipsOf), [["10.0.0.2"], ["10.0.0.3"]]);
  } finally {
    await src.close();
    await Deno.remove(parent, { recursive: true });
  }
});
