/**
 * LocalConfigSource faults that need a process of its own (tests/fakes/local_source_child.ts): fd
 * exhaustion under a low `ulimit -n`, and permission denied (root reads any file, so the child runs
 * without DAC override).
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { waitFor, workloads } from "./local_source_fixtures.ts";

interface ChildEvent {
  ev: string;
  ips?: string[];
  kind?: string;
  line?: string;
  held?: number;
  error?: string;
}

/** tests/fakes/local_source_child.ts on `path`, started through `wrapper` (prlimit, setpriv). */
function child(wrapper: string[], path: string, mode = "") {
  const script = new URL("../fakes/local_source_child.ts", import.meta.url).pathname;
  const args = [Deno.execPath(), "run", "-A", script, path, mode];
  const proc = new Deno.Command(wrapper[0] ?? args.shift()!, {
    args: [...wrapper.slice(1), ...args],
    cwd: new URL("../..", import.meta.url).pathname,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const events: ChildEvent[] = [];
  const reading = (async () => {
    let buf = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        events.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  const stderr = new Response(proc.stderr).text();
  return {
    events,
    wait: (what: string, cond: (e: ChildEvent) => boolean) =>
      waitFor(what, () => events.some(cond), 10_000).catch(async (e) => {
        proc.kill("SIGKILL");
        throw new Error(`${e.message}; events ${JSON.stringify(events)}; stderr ${await stderr}`);
      }),
    /** Its exit code once it has exited by itself (after its first reload). */
    exited: async () => {
      const { code } = await proc.status;
      await reading;
      return { code, stderr: await stderr };
    },
  };
}

const WORKLOAD_B =
  `workloads:\n- {name: w0, namespace: ns, workloadIps: ["10.0.0.1"]}\n- {name: w1, namespace: ns, workloadIps: ["10.0.0.2"]}\n`;

Deno.test("LocalConfigSource under fd exhaustion (ulimit -n 128): EMFILE is logged, counted, retried", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  try {
    await Deno.writeTextFile(path, workloads("10.0.0.1"));
    const c = child(["prlimit", "--nofile=128:128", "--"], path, "exhaust");
    await c.wait("exhaustion", (e) => e.ev === "exhausted");
    const exhausted = c.events.find((e) => e.ev === "exhausted")!;
    ok(exhausted.held! > 50 && /Too many open files/.test(exhausted.error!), JSON.stringify(exhausted));
    await Deno.writeTextFile(path, WORKLOAD_B); // one event; the reads it causes fail with EMFILE
    await c.wait("the reload", (e) => e.ev === "config");
    const { code, stderr } = await c.exited();
    equal(code, 0, stderr);
    const evs = c.events.filter((e) => e.ev !== "log");
    deepEqual(evs.map((e) => e.kind ? `${e.ev}:${e.kind}` : e.ev), [
      "started",
      "exhausted",
      "failure:read",
      "failure:read",
      "released",
      "config",
    ]);
    deepEqual(evs.at(-1)!.ips, ["10.0.0.1", "10.0.0.2"]);
    const logs = c.events.filter((e) => e.ev === "log").map((e) => e.line!);
    ok(logs.some((l) => /\terror\t.*unreadable.*Too many open files/.test(l)), logs.join("\n"));
    ok(logs.some((l) => l.includes("local config readable again")), logs.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalConfigSource: permission denied is logged, counted and retried; the last good config stays", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  try {
    await Deno.writeTextFile(path, workloads("10.0.0.1"));
    // Root reads any file: the child runs without DAC override so that mode 000 denies it.
    const c = child(
      Deno.uid() === 0 ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] : [],
      path,
    );
    await c.wait("the start", (e) => e.ev === "started");
    await Deno.writeTextFile(`${path}.tmp`, WORKLOAD_B, { mode: 0o000 });
    await Deno.chmod(`${path}.tmp`, 0o000);
    await Deno.rename(`${path}.tmp`, path);
    await c.wait("a denied read", (e) => e.ev === "log" && /Permission denied/.test(e.line!));
    await c.wait("a retry", () => c.events.filter((e) => e.kind === "read").length >= 2);
    equal(c.events.some((e) => e.ev === "config"), false);
    await Deno.chmod(path, 0o644);
    await c.wait("the reload", (e) => e.ev === "config");
    const { code, stderr } = await c.exited();
    equal(code, 0, stderr);
    deepEqual(c.events.find((e) => e.ev === "config")!.ips, ["10.0.0.1", "10.0.0.2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
