import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import { Logger, LogSink } from "../../lib/log/logger.ts";
import type { LocalConfig } from "../../lib/state/local_config.ts";
import { LocalConfigSource } from "../../lib/state/local_source.ts";

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new LogSink({ defaultLevel: "info", components: new Map() }, "plain", (l) => lines.push(l));
  return { log: new Logger(sink, "config"), lines };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function workloads(...ips: string[]): string {
  return `workloads:\n${
    ips.map((ip, i) => `- {name: w${i}, namespace: ns, workloadIps: ["${ip}"]}`).join("\n")
  }\n`;
}

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
