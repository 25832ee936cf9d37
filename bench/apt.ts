/** Finds a command on PATH, installing its Debian package with apt-get when missing (root only). */
import { run } from "./process.ts";

function log(msg: string) {
  console.error(`[bench] ${msg}`);
}

export async function which(name: string): Promise<string | undefined> {
  try {
    return (await run("bash", ["-c", `command -v ${name}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

let updated = false;

async function aptInstall(pkgs: string[]) {
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    new Deno.Command("apt-get", { args: ["install", "-y", "--no-install-recommends", ...pkgs], env })
      .output();
  log(`running: apt-get install -y --no-install-recommends ${pkgs.join(" ")}`);
  let out = await install();
  if (!out.success && !updated) {
    log("apt-get install failed; running: apt-get update, then retrying");
    updated = true;
    await new Deno.Command("apt-get", { args: ["update"], env }).output();
    out = await install();
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    throw new Error(`apt-get install ${pkgs.join(" ")} failed: ${err}`);
  }
}

/**
 * The path of the first of `names` found on PATH. If none is, and we are root with apt-get,
 * installs `pkgs` and looks again. Throws a message saying what to install otherwise.
 */
export async function ensureCommand(names: string[], pkgs: string[]): Promise<string> {
  for (const n of names) {
    const p = await which(n);
    if (p) return p;
  }
  const missing = `${names.join(" or ")} not found`;
  if (Deno.uid() !== 0) {
    throw new Error(`${missing}; install the Debian package(s) ${pkgs.join(" ")} (needs root)`);
  }
  if (!(await which("apt-get"))) {
    throw new Error(`${missing} and apt-get is not available to install ${pkgs}`);
  }
  log(`${missing}; installing Debian package(s) ${pkgs.join(" ")}`);
  await aptInstall(pkgs);
  for (const n of names) {
    const p = await which(n);
    if (p) return p;
  }
  throw new Error(`${missing} even after installing ${pkgs.join(" ")}`);
}
