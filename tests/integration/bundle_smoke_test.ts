/**
 * The one-file form, as CI ships it: compile.sh builds dist/zt.js; a copy of it, in a directory with
 * no deno.json and an empty DENO_DIR, runs with `deno run --cached-only` and exactly the flags of
 * permissions.txt: `zt ca init`, two nodes, one tunnelled connection through SOCKS5 (HBONE between
 * the nodes), then a SIGTERM drain that exits 0.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { NodeProcess } from "../../lib/cli/node_process.ts";
import { startEchoServer } from "../fakes/echo_server.ts";
import { roundTrip, socks5Connect } from "../fakes/socks5_client.ts";
import { ztPermissions } from "../fakes/permissions.ts";
import { meshPod, pattern, sameBytes, spiffeOf } from "../fakes/mesh_config.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const A = { name: "bundle-a", ip: "127.40.9.1" };
const B = { name: "bundle-b", ip: "127.40.9.2" };
const CLIENT = { name: "client", ip: "127.40.9.11", node: A.name };
const SERVER = { name: "server", ip: "127.40.9.12", node: B.name };

async function output(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  const out = await new Deno.Command(cmd, { args, ...opts, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return false;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return true;
}

Deno.test("bundle: dist/zt.js runs offline from an empty DENO_DIR under permissions.txt", async () => {
  const perms = ztPermissions();
  const built = await output("bash", [`${ROOT}compile.sh`, "--bundle-only"], {
    env: { DENO: Deno.execPath() },
  });
  assert.equal(built.code, 0, `compile.sh failed:\n${built.stdout}\n${built.stderr}`);
  assert.ok(
    built.stdout.includes(`deno run --cached-only --no-prompt ${perms.join(" ")} dist/zt.js run`),
    `compile.sh prints how to run the bundle with permissions.txt's flags:\n${built.stdout}`,
  );
  const text = await Deno.readTextFile(`${ROOT}dist/zt.js`);
  assert.doesNotMatch(text, /from\s*"(npm:|jsr:|https?:)/, "only node:* imports are left in the bundle");

  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "zt-bundle-" });
  const denoDir = `${dir}/deno_dir`;
  await Deno.mkdir(denoDir);
  await Deno.copyFile(`${ROOT}dist/zt.js`, `${dir}/zt.js`);
  const env = { DENO_DIR: denoDir, NO_COLOR: "1" };
  const command = {
    cmd: Deno.execPath(),
    args: ["run", "--cached-only", "--no-prompt", ...perms, `${dir}/zt.js`],
  };

  const ca = await output(command.cmd, [...command.args, "ca", "init", `${dir}/ca`], { cwd: dir, env });
  assert.equal(ca.code, 0, `zt ca init from the bundle: ${ca.stderr}`);
  const configPath = `${dir}/mesh.yaml`;
  await Deno.writeTextFile(configPath, stringify({ workloads: [meshPod(CLIENT), meshPod(SERVER)] }));

  const echo = startEchoServer(SERVER.ip, 7070);
  const nodes: NodeProcess[] = [];
  try {
    for (const n of [A, B]) {
      nodes.push(await NodeProcess.start({ ...n, caDir: `${dir}/ca`, configPath, command, cwd: dir, env }));
    }
    const { reply, conn } = await socks5Connect({ ip: CLIENT.ip, port: 15080 }, SERVER.ip, 7070);
    assert.equal(reply, 0);
    const data = pattern(200_000, 9);
    assert.ok(sameBytes(await roundTrip(conn, data), data), "the tunnelled bytes come back intact");
    const inbound = await nodes[1].waitForLog((l) =>
      l.message === "connection complete" && l.direction === "inbound"
    );
    assert.equal(inbound["src.identity"], spiffeOf(CLIENT), "node B saw the client's identity over HBONE");

    const codes = await Promise.all(nodes.splice(0).map((n) => n.stop("SIGTERM")));
    assert.deepEqual(codes, [0, 0], "SIGTERM drains both nodes and they exit 0");
    assert.ok(await isEmptyOrAbsent(`${denoDir}/npm`), "nothing was fetched into DENO_DIR");
    assert.ok(await isEmptyOrAbsent(`${denoDir}/remote`), "nothing was fetched into DENO_DIR");
  } finally {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});
