/**
 * h2spec (the HTTP/2 conformance suite) against zt's HTTP/2 server layer, through the harness in
 * tests/peers/h2spec_server.ts in its `body` mode (every request answered 200 with a body once it
 * ended, so h2spec's checks of both directions apply). Runs only where the h2spec binary is installed:
 *   GOBIN=/opt/bin go install github.com/summerwind/h2spec/cmd/h2spec@latest   (or set H2SPEC=path)
 * The HBONE-mode numbers (zt's own 400 / CONNECT answers) are in the h2 report; some of h2spec's
 * cases cannot apply there (they need a response body, or a request zt has not answered yet).
 */
import assert from "node:assert/strict";
import type net from "node:net";
import { serveH2 } from "../../peers/h2spec_server.ts";

const H2SPEC = Deno.env.get("H2SPEC") ?? "/opt/bin/h2spec";
const present = (() => {
  try {
    return Deno.statSync(H2SPEC).isFile;
  } catch {
    return false;
  }
})();
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
    const out = await new Deno.Command(H2SPEC, {
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
  name: present
    ? "h2spec: every applicable case passes against zt's HTTP/2 server layer"
    : `h2spec: not run (no h2spec binary at ${H2SPEC})`,
  ignore: !present,
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
