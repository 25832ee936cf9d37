/**
 * `zt demo` in loopback mode as users run it (a real process: `deno run -A main.ts demo`), anywhere:
 * forced with --loopback, and chosen with its one-line reason when in-pod mode cannot run (here: the
 * tools missing from PATH, or not root); a forced in-pod demo refused clearly where it cannot run.
 * The loopback demo binds 127.10.x and 127.20.x, so these tests run one after the other.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function demo(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "demo", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** Every check passed, none failed, the closing line printed. */
function assertAllPassed(out: string): void {
  assert.doesNotMatch(out, /✘|demo failed/, out);
  assert.match(out, /demo complete: the mesh behaved as Istio's ambient L4 guide says/, out);
}

/** The demo's temp directory, from the command it shows first (`zt ca init <dir>/ca`). */
function tempDir(out: string): string {
  const m = /^\$ zt ca init (\/\S+)\/ca$/m.exec(out);
  assert.ok(m, `no "zt ca init" line:\n${out}`);
  return m[1];
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test({
  name: "zt demo --loopback: the loopback demo walks the guide and exits 0",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { code, out } = await demo(["--loopback"]);
    assert.equal(code, 0, out);
    assertAllPassed(out);
    assert.doesNotMatch(out, /in-pod|running the loopback demo/);
    assert.match(out, /^\$ curl --socks5-hostname 127\.10\.1\.1:15080 http:\/\/httpbin:8000\/ {3}# x10$/m);
    assert.match(out, /✔ node-b saw the peer identity of sleep/);
    assert.ok(!(await exists(tempDir(out))), "the temp directory is left");
  },
});

Deno.test({
  name: "zt demo: where in-pod mode cannot run, one line says why and the loopback demo runs (exit 0)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const bin = Deno.makeTempDirSync({ prefix: "zt-demo-test-bin-" });
    try {
      Deno.symlinkSync("/bin/true", `${bin}/ip`); // everything else missing
      const { code, out } = await demo([], { PATH: bin });
      assert.equal(code, 0, out);
      assertAllPassed(out);
      const why = out.split("\n").filter((l) => l.includes("running the loopback demo"));
      assert.equal(why.length, 1, out);
      // As root the missing tools are the reason; otherwise root (or Linux) comes first.
      const expected = Deno.uid() === 0
        ? /in-pod mode needs iptables-restore, iptables-save, nsenter, sysctl on PATH/
        : /in-pod mode needs/;
      assert.match(why[0], expected);
      assert.match(out, /== 5\. sleep → httpbin:8000, ten times, through zt/);

      const forced = await demo(["--inpod"], { PATH: bin });
      assert.equal(forced.code, 1, forced.out);
      assert.match(forced.out, /^zt demo --inpod: in-pod mode needs /m);
      assert.doesNotMatch(forced.out, /== 1\./);
    } finally {
      Deno.removeSync(bin, { recursive: true });
    }
  },
});

Deno.test({
  name: "zt demo --loopback: Ctrl-C stops the nodes and removes the temp directory, exit 130",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "demo", "--loopback"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let out = "";
    const errText = new Response(child.stderr).text();
    const dec = new TextDecoder();
    const reader = child.stdout.getReader();
    while (!/^== 5\. /m.test(out)) {
      const r = await reader.read();
      if (r.done) break;
      out += dec.decode(r.value, { stream: true });
    }
    child.kill("SIGINT");
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      out += dec.decode(r.value, { stream: true });
    }
    const { code } = await child.status;
    const err = await errText;
    assert.equal(code, 130, out + err);
    assert.match(err, /SIGINT: cleaning up/);
    const dir = tempDir(out);
    assert.ok(!(await exists(dir)), "the temp directory is left");
    // The nodes were started with LOCAL_XDS_PATH in the temp directory: none may still run.
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      let env = "";
      try {
        env = Deno.readTextFileSync(`/proc/${e.name}/environ`);
      } catch { /* gone, or another user's */ }
      assert.ok(!env.includes(dir), `process ${e.name} still runs with ${dir}`);
    }
  },
});
