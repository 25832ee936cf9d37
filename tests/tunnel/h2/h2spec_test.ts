/**
 * h2spec (the HTTP/2 conformance suite) against zt's HTTP/2 server layer, through the harness in
 * tests/peers/h2spec_server.ts in its `body` mode (every request answered 200 with a body once it
 * ended, so h2spec's checks of both directions apply). The h2spec binary is, in this order: $H2SPEC;
 * the pinned build of tests/peers/h2spec (github.com/summerwind/h2spec, its go.mod and go.sum), made by
 * tests/fakes/go_peer.ts where `go` is on PATH (.ci/run builds it beforehand); /opt/bin/h2spec. With
 * none of them the test is ignored, saying so.
 * The HBONE-mode numbers (zt's own 400 / CONNECT answers) are in the h2 report; some of h2spec's
 * cases cannot apply there (they need a response body, or a request zt has not answered yet).
 */
import assert from "node:assert/strict";
import type net from "node:net";
import { serveH2 } from "../../peers/h2spec_server.ts";
import { goAvailable, goPeer } from "../../fakes/go_peer.ts";

const H2SPEC_MODULE = new URL("../../peers/h2spec", import.meta.url).pathname;
const INSTALLED = "/opt/bin/h2spec";

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Where h2spec comes from (decided at registration); `binary()` gives its path (building it if need be). */
const source: "env" | "go" | "installed" | undefined = Deno.env.get("H2SPEC")
  ? "env"
  : await goAvailable()
  ? "go"
  : isFile(INSTALLED)
  ? "installed"
  : undefined;

async function binary(): Promise<string> {
  if (source === "env") return Deno.env.get("H2SPEC")!;
  if (source === "installed") return INSTALLED;
  const p = await goPeer(H2SPEC_MODULE);
  if (p.kind === "unavailable") throw new Error(`h2spec: ${p.reason}`);
  return p.path;
}
const HOST = "127.41.0.3";

/** "package: case" of every h2spec case that failed or errored, from its JUnit report. */
function failures(xml: string): string[] {
  const out: string[] = [];
  const re = /<testcase package="([^"]*)" classname="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g;
  for (const m of xml.matchAll(re)) if (/<(failure|error)/.test(m[3])) out.push(`${m[1]}: ${m[2]}`);
  return out;
}

async function h2spec(port: number, extra: string[]): Promise<{ failed: string[]; summary: string }> {
  const report = await Deno.makeTempFile({ suffix: ".xml" });
  try {
    const out = await new Deno.Command(await binary(), {
      args: ["-h", HOST, "-p", String(port), "-o", "2", "-j", report, ...extra],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const summary = text.trim().split("\n").at(-1) ?? "";
    return { failed: failures(await Deno.readTextFile(report)), summary };
  } finally {
    await Deno.remove(report);
  }
}

Deno.test({
  name: source
    ? `h2spec (${source}): every applicable case passes against zt's HTTP/2 server layer`
    : `h2spec: not run (no H2SPEC, no \`go\` to build ${H2SPEC_MODULE}, no ${INSTALLED})`,
  ignore: source === undefined,
  fn: async () => {
    const server: net.Server = await serveH2(0, HOST, "body");
    try {
      const port = (server.address() as net.AddressInfo).port;
      const all = await h2spec(port, []);
      // zt advertises SETTINGS_MAX_FRAME_SIZE 1 MiB; this case assumes the 16 KiB default (rerun below).
      assert.deepEqual(all.failed, [
        "http2/4.2: Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE",
      ], all.summary);
      const frameSize = await h2spec(port, ["--max-header-length", "300000", "http2/4.2"]);
      assert.deepEqual(frameSize.failed, [], frameSize.summary);
    } finally {
      await new Promise((r) => server.close(r));
    }
  },
});
