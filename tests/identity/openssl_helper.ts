/** Runs the openssl CLI for tests that check zt's certificates against a real X.509 implementation. */
import assert from "node:assert/strict";

let available: boolean | undefined;

/** Whether `openssl` is on PATH; logs `skipping` when it is not. */
export async function haveOpenssl(skipping: string): Promise<boolean> {
  if (available === undefined) {
    try {
      available = (await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output()).success;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      available = false;
    }
  }
  if (!available) console.log(`openssl not found; skipping ${skipping}`);
  return available;
}

/** Runs openssl in `cwd`; returns stdout+stderr and asserts success unless `expectFailure`. */
export async function openssl(args: string[], cwd: string, expectFailure = false): Promise<string> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (expectFailure) assert.notEqual(out.code, 0, `openssl ${args.join(" ")} should fail:\n${text}`);
  else assert.equal(out.code, 0, `openssl ${args.join(" ")}:\n${text}`);
  return text;
}

/** A temp dir for `fn`, removed afterwards. */
export async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "zt-x509-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
