/**
 * `zt demo` in in-pod mode as users run it (a real process: `deno run -A main.ts demo`), as root: end
 * to end (exit 0, every check ✔) with curl and dig, and with the built-in clients (no curl, dig or
 * getent on PATH); Ctrl-C in the middle, a failing step, and a SIGKILL in the middle (the next run
 * removes what it left); after each, nothing is left: no namespace, no /etc/netns directory, no lock,
 * no temp directory (with its ZDS sockets), no process, nothing of the demo in the caller's own
 * namespace. (The loopback demo: tests/cli/demo_loopback_test.ts.)
 */
import assert from "node:assert/strict";
import { LineReader, netnsSkipReason } from "../fakes/netns.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const TOOLS = ["ip", "iptables-restore", "iptables-save", "nsenter", "sysctl"];
const SKIP = await netnsSkipReason(TOOLS);
if (SKIP) console.log(`demo_test: in-pod demo skipped: ${SKIP}`);
const DEMO_NAMESPACES = ["node-a", "node-b", "sleep", "notsleep", "httpbin-1", "httpbin-2"];
const LOCK = "/var/run/zt-demo.json";

interface Demo {
  readonly child: Deno.ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  text(): string;
  /** Waits for a line of stdout matching `re`. */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  done(): Promise<{ code: number; out: string }>;
}

function startDemo(args: string[], env: Record<string, string> = {}): Demo {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "demo", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let all = "";
  const [lines, copy] = child.stdout.tee();
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) all += chunk;
  };
  const collected = Promise.all([collect(copy), collect(child.stderr)]);
  const reader = new LineReader(lines);
  let reading = false;
  return {
    child,
    text: () => all,
    waitFor: (re, ms = 30_000) => {
      reading = true;
      return reader.waitFor((l) => re.test(l), ms).catch((e) => {
        throw new Error(`${e.message}\n${all}`);
      });
    },
    async done() {
      if (!reading) lines.cancel().catch(() => {});
      const s = await child.status;
      await collected;
      return { code: s.code, out: all };
    },
  };
}

/** The demo's temp directory, from the command it shows first (`zt ca init <dir>/ca`). */
function tempDir(out: string): string {
  const m = /^\$ zt ca init (\/\S+)\/ca$/m.exec(out);
  assert.ok(m, `no "zt ca init" line:\n${out}`);
  return m[1];
}

async function sh(...argv: string[]): Promise<string> {
  const r = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "null" })
    .output();
  return new TextDecoder().decode(r.stdout);
}

/** Processes whose command line or environment names `dir` (the demo's nodes, zt cni, clients). */
function processesNaming(dir: string): string[] {
  const found: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    for (const f of ["cmdline", "environ"]) {
      try {
        if (Deno.readTextFileSync(`/proc/${e.name}/${f}`).includes(dir)) found.push(`${e.name} (${f})`);
      } catch { /* gone, or not readable */ }
    }
  }
  return found;
}

const exists = (path: string) => {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
};

/** What of the demo is in the caller's namespace: its addresses, interfaces, in links, routes, rules. */
async function demoTracesHere(): Promise<string[]> {
  const text = [
    await sh("ip", "-o", "link"),
    await sh("ip", "-o", "addr"),
    await sh("ip", "route", "show", "table", "all"),
    await sh("ip", "rule"),
    await sh("iptables-save"),
  ].join("\n");
  return text.split("\n").filter((l) =>
    /10\.244\.|172\.18\.0\.|10\.96\.0\.|\bv-(sleep|notsleep|httpbin)|\bnl0\b/.test(l)
  );
}

async function assertNothingLeft(dir: string): Promise<void> {
  const namespaces = (await sh("ip", "netns", "list")).split("\n").map((l) => l.split(" ")[0]);
  assert.deepEqual(namespaces.filter((n) => DEMO_NAMESPACES.includes(n)), [], "namespaces left");
  for (const ns of DEMO_NAMESPACES) assert.ok(!exists(`/etc/netns/${ns}`), `/etc/netns/${ns} left`);
  assert.ok(!exists(LOCK), "the lock file is left");
  assert.ok(!exists(dir), `${dir} (CA, mesh.yaml, ZDS sockets) is left`);
  // A process may take a moment to be reaped after its SIGKILL.
  let left = processesNaming(dir);
  for (let i = 0; i < 20 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesNaming(dir);
  }
  assert.deepEqual(left, [], "processes left");
  assert.deepEqual(await demoTracesHere(), [], "the demo changed the caller's namespace");
}

/** Every check passed, none failed, the closing line printed. */
function assertAllPassed(out: string): void {
  assert.doesNotMatch(out, /✘|demo failed/, out);
  assert.match(out, /demo complete: the mesh behaved as Istio's ambient L4 guide says/, out);
}

/** A directory of symlinks to the tools the demo needs, and nothing else (no curl, dig, getent). */
function toolsOnlyPath(dir: string): string {
  for (const t of [...TOOLS, "iptables", "ip6tables", "ip6tables-restore", "ip6tables-save", "ss"]) {
    for (const d of (Deno.env.get("PATH") ?? "").split(":")) {
      if (d && exists(`${d}/${t}`)) {
        Deno.symlinkSync(`${d}/${t}`, `${dir}/${t}`);
        break;
      }
    }
  }
  return dir;
}

const inpod = { ignore: SKIP !== undefined, sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "zt demo (in-pod): Ctrl-C in the middle stops everything and removes everything, exit 130",
  ...inpod,
  fn: async () => {
    const before = await demoTracesHere();
    assert.deepEqual(before, [], "demo traces before the test");
    const demo = startDemo([]);
    await demo.waitFor(/^== 7\. /);
    demo.child.kill("SIGINT");
    const { code, out } = await demo.done();
    assert.equal(code, 130, out);
    assert.match(out, /SIGINT: cleaning up/);
    await assertNothingLeft(tempDir(out));
  },
});

Deno.test({
  name:
    "zt demo (in-pod): a step that fails (a node refuses its environment) → exit 1, the reason, nothing left",
  ...inpod,
  fn: async () => {
    const { code, out } = await startDemo([], { INPOD_PORT_REUSE: "maybe" }).done();
    assert.equal(code, 1, out);
    assert.match(out, /demo failed: node-[ab] exited \(1\) before the expected log line/);
    assert.match(out, /invalid INPOD_PORT_REUSE/);
    assert.match(out, /1 step\(s\) failed/);
    await assertNothingLeft(tempDir(out));
  },
});

Deno.test({
  name: "zt demo (in-pod): killed outright, the next run removes its leftovers, then walks the guide: exit 0",
  ...inpod,
  fn: async () => {
    const killed = startDemo([]);
    await killed.waitFor(/^== 5\. /);
    killed.child.kill("SIGKILL");
    const first = await killed.done();
    const oldDir = tempDir(first.out);
    assert.ok(exists(LOCK) && DEMO_NAMESPACES.every((ns) => exists(`/var/run/netns/${ns}`)), "nothing left?");
    assert.ok(processesNaming(oldDir).length > 0, "the killed demo's nodes should outlive it");

    const started = performance.now();
    const { code, out } = await startDemo(["--inpod"]).done();
    const seconds = (performance.now() - started) / 1000;
    assert.equal(code, 0, out);
    assertAllPassed(out);
    assert.match(out, new RegExp(`removing what an interrupted zt demo, pid ${killed.child.pid}, left`));
    assert.match(out, /^zt demo: in-pod mode/m);
    // The guide's steps, with unmodified clients inside the pods.
    assert.match(
      out,
      /^\$ ip netns exec node-a zt cni --config mesh\.yaml --node node-a --uds node-a\.sock --ipv6 false &$/m,
    );
    assert.match(
      out,
      new RegExp(
        "^\\$ ip netns exec node-b env NODE_NAME=node-b INSTANCE_IP=172\\.18\\.0\\.3 LOCAL_XDS_PATH=mesh\\.yaml " +
          "LOCAL_CA_DIR=ca INPOD_ENABLED=true INPOD_UDS=node-b\\.sock zt run &$",
        "m",
      ),
    );
    assert.match(out, /^\$ ip netns exec sleep curl -sS --max-time 5 http:\/\/httpbin:8000\/$/m);
    assert.match(out, /^\$ ip netns exec sleep dig \+search \+noall \+answer httpbin$/m);
    assert.match(out, /^ {2}httpbin\.ambient-demo\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.96\.0\.20$/m);
    assert.match(out, /^\$ ip netns exec sleep ss -ltn$/m);
    assert.match(out, /served by: (httpbin-[12] ){9}httpbin-[12]$/m);
    assert.match(out, /^ {2}\{"origin": "10\.244\.1\.10"\}$/m);
    assert.match(
      out,
      /src\.addr="10\.244\.1\.10:\d+" .*src\.identity="spiffe:\/\/cluster\.local\/ns\/ambient-demo\/sa\/sleep".*direction="inbound"/,
    );
    assert.match(out, /✔ notsleep → httpbin refused: curl: \(5[26]\)/);
    assert.match(out, /✔ node-a drained and exited with 0/);
    for (const n of [7, 8, 9, 10, 11, 12]) assert.match(out, new RegExp(`^== ${n}\\. `, "m"));
    await assertNothingLeft(tempDir(out));
    await assertNothingLeft(oldDir);
    console.log(`demo_test: the in-pod demo took ${seconds.toFixed(1)} s`);
  },
});

Deno.test({
  name:
    "zt demo (in-pod): without curl, dig and getent the built-in client runs inside the pods, and says so",
  ...inpod,
  fn: async () => {
    const bin = Deno.makeTempDirSync({ prefix: "zt-demo-test-bin-" });
    try {
      const { code, out } = await startDemo([], { PATH: toolsOnlyPath(bin) }).done();
      assert.equal(code, 0, out);
      assertAllPassed(out);
      assert.match(out, /the built-in HTTP client \(curl is not installed\)/);
      assert.match(out, /the built-in resolver \(dig and getent are not installed\)/);
      assert.match(out, /^\$ \(built-in, in pod sleep's namespace\) GET http:\/\/httpbin:8000\/$/m);
      assert.match(out, /^ {2}httpbin\.ambient-demo\.svc\.cluster\.local\. A 10\.96\.0\.20$/m);
      assert.match(out, /served by: (httpbin-[12] ){9}httpbin-[12]$/m);
      assert.match(out, /✔ notsleep → httpbin refused/);
      assert.doesNotMatch(out, /curl -sS/);
      await assertNothingLeft(tempDir(out));
    } finally {
      Deno.removeSync(bin, { recursive: true });
    }
  },
});
