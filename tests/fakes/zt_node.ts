/** Real zt nodes for integration tests: a CA and a local config in a temp dir, nodes as child processes. */
import { stringify } from "yaml";
import { NodeProcess, type NodeProcessOptions, ztCommand } from "../../lib/cli/node_process.ts";
import { ztPermissions } from "./permissions.ts";

export { NodeProcess };

/** Runs `zt <args>` to completion, with the binary's permissions (permissions.txt). */
export async function runZt(args: string[], env: Record<string, string> = {}) {
  const { cmd, args: pre } = ztCommand(ztPermissions());
  const out = await new Deno.Command(cmd, { args: [...pre, ...args], env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Writes a CA (`zt ca init`) and the mesh config into `dir`. */
export async function writeMeshFiles(
  dir: string,
  config: unknown,
): Promise<{ caDir: string; configPath: string }> {
  const caDir = `${dir}/ca`;
  const r = await runZt(["ca", "init", caDir]);
  if (r.code !== 0) throw new Error(`zt ca init failed: ${r.stderr}`);
  const configPath = `${dir}/mesh.yaml`;
  await Deno.writeTextFile(configPath, typeof config === "string" ? config : stringify(config));
  return { caDir, configPath };
}

/** Starts a node with the binary's permissions (permissions.txt) unless `denoFlags` says otherwise. */
export function startNode(opts: NodeProcessOptions): Promise<NodeProcess> {
  return NodeProcess.start({
    denoFlags: ztPermissions(),
    ...opts,
    onLog: Deno.env.get("ZT_TEST_VERBOSE")
      ? (l) => console.error(`[${opts.name}] ${JSON.stringify(l)}`)
      : undefined,
  });
}
