/**
 * Go test peers (tests/peers/<name>/, one Go module each: its own main package, or a pinned tool its
 * go.mod names with a `tool` directive), built by the test suite itself: `go build`
 * into a cache directory outside the tree, keyed by a hash of the module's .go files, go.mod, go.sum and
 * the Go toolchain, so only the first run after a change pays for the build; test files running in
 * parallel take a lock, one builds and the others wait. Without `go` on PATH the caller gets a reason
 * to skip; any other failure (a compile error, a module that cannot be fetched) is an error, never a skip.
 *
 *   deno run -A tests/fakes/go_peer.ts tests/peers/istio_hbone   # pre-build (CI); prints the binary
 *
 * The cache is $ZT_TEST_PEER_CACHE, else $XDG_CACHE_HOME/zt-test-peers, else ~/.cache/zt-test-peers.
 */
import { createHash } from "node:crypto";

export type GoPeer =
  | { readonly kind: "built"; readonly path: string; readonly cached: boolean; readonly buildMs: number }
  | { readonly kind: "unavailable"; readonly reason: string };

export function goPeerCacheDir(): string {
  const env = (k: string) => Deno.env.get(k) || undefined;
  const explicit = env("ZT_TEST_PEER_CACHE");
  if (explicit) return explicit;
  const base = env("XDG_CACHE_HOME") ?? (env("HOME") ? `${env("HOME")}/.cache` : "/tmp");
  return `${base}/zt-test-peers`;
}

/** `go env` facts that change the binary; undefined when there is no `go` to run. */
async function goToolchain(go: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(go, {
      args: ["env", "GOVERSION", "GOOS", "GOARCH"],
      env: { GOTOOLCHAIN: "local" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`go env failed: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout).trim().split("\n").join(" ");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function moduleFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${rel}`)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await moduleFiles(dir, path));
    else if (e.isFile && (e.name.endsWith(".go") || e.name === "go.mod" || e.name === "go.sum")) {
      out.push(path);
    }
  }
  return out.sort();
}

/** SHA-256 over the toolchain and every module file's path and bytes. */
export async function goPeerHash(dir: string, toolchain: string): Promise<string> {
  const h = createHash("sha256");
  h.update(`${toolchain}\n`);
  for (const f of await moduleFiles(dir)) {
    const bytes = await Deno.readFile(`${dir}/${f}`);
    h.update(`${f}\n${bytes.length}\n`);
    h.update(bytes);
  }
  return h.digest("hex");
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

export interface GoPeerOptions {
  /** The go command (default `go`, from PATH). */
  readonly go?: string;
  /** Where built binaries are kept (default `goPeerCacheDir()`). */
  readonly cacheDir?: string;
}

/** Builds (or finds in the cache) the peer whose module is `dir`. */
export async function buildGoPeer(dir: string, opts: GoPeerOptions = {}): Promise<GoPeer> {
  const go = opts.go ?? "go";
  const toolchain = await goToolchain(go);
  if (!toolchain) return { kind: "unavailable", reason: "`go` is not on PATH" };
  const abs = await Deno.realPath(dir);
  const name = abs.split("/").pop()!;
  const hash = await goPeerHash(abs, toolchain);
  const outDir = `${opts.cacheDir ?? goPeerCacheDir()}/${name}-${hash.slice(0, 16)}`;
  const path = `${outDir}/${name}`;
  await Deno.mkdir(outDir, { recursive: true });
  const t0 = performance.now();
  // Test files run as parallel processes: one builds, the others wait for its binary.
  for (;;) {
    if (await isExecutable(path)) return { kind: "built", path, cached: true, buildMs: 0 };
    const release = await buildLock(`${outDir}/build.lock`);
    if (!release) {
      if (performance.now() - t0 > BUILD_WAIT_MS) throw new Error(`${outDir}: another build holds the lock`);
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      if (await isExecutable(path)) return { kind: "built", path, cached: true, buildMs: 0 };
      await goBuild(go, abs, path);
      return { kind: "built", path, cached: false, buildMs: Math.round(performance.now() - t0) };
    } finally {
      await release();
    }
  }
}

const BUILD_WAIT_MS = 600_000;

/** Takes the lock file (holding this pid); undefined while a live process holds it. */
async function buildLock(lock: string): Promise<(() => Promise<void>) | undefined> {
  try {
    await Deno.writeTextFile(lock, String(Deno.pid), { createNew: true });
    return () => Deno.remove(lock).catch(() => {});
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const holder = Number(await Deno.readTextFile(lock).catch(() => ""));
  // An empty lock is one being written this instant, unless it is old.
  const alive = holder > 0
    ? await Deno.stat(`/proc/${holder}`).then(() => true, () => false)
    : await Deno.stat(lock).then((st) => Date.now() - (st.mtime?.getTime() ?? 0) < 60_000, () => false);
  if (!alive) await Deno.remove(lock).catch(() => {}); // a builder that died: retry at once
  return undefined;
}

/**
 * The package `go build` makes of a module: its own main package, or, for a module with no Go files
 * of its own (a pinned third-party tool, e.g. tests/peers/h2spec), the one `tool` its go.mod names.
 */
async function buildTarget(moduleDir: string): Promise<string> {
  for await (const e of Deno.readDir(moduleDir)) if (e.isFile && e.name.endsWith(".go")) return ".";
  const goMod = await Deno.readTextFile(`${moduleDir}/go.mod`);
  const tools = [...goMod.matchAll(/^tool\s+(\S+)\s*$/gm)].map((m) => m[1]);
  if (tools.length !== 1) throw new Error(`${moduleDir}: no .go files, and ${tools.length} tool directives`);
  return tools[0];
}

async function goBuild(go: string, moduleDir: string, path: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  const out = await new Deno.Command(go, {
    args: ["build", "-trimpath", "-buildvcs=false", "-mod=readonly", "-o", tmp, await buildTarget(moduleDir)],
    cwd: moduleDir,
    env: { GOTOOLCHAIN: "local", GOFLAGS: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`go build in ${moduleDir} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  await Deno.rename(tmp, path);
}

const builds = new Map<string, Promise<GoPeer>>();

/** `buildGoPeer`, once per directory per process. */
export function goPeer(dir: string): Promise<GoPeer> {
  let p = builds.get(dir);
  if (!p) builds.set(dir, p = buildGoPeer(dir));
  return p;
}

/** True when `go` can be run: decides at test registration whether Go-peer tests are ignored. */
export async function goAvailable(): Promise<boolean> {
  return (await goToolchain("go")) !== undefined;
}

if (import.meta.main) {
  for (const dir of Deno.args) {
    const p = await buildGoPeer(dir);
    if (p.kind === "unavailable") console.log(`${dir}: not built: ${p.reason}`);
    else console.log(`${p.path} (${p.cached ? "cached" : `built in ${p.buildMs} ms`})`);
  }
}
