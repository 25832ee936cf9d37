/**
 * Faults reach the client as faults, through a pod's SOCKS5 entry and two real nodes (issue 14 §3, §5):
 * a refused HBONE dial answers SOCKS5 0x05 (connection refused); an app that resets, a destination node
 * killed mid-transfer, and a client that resets each reach the other end as a reset (RST), never as the
 * clean FIN that would make a truncated stream look complete. The far ends are an independent Python
 * peer (tests/peers/tcp_end_probe.py) that tells FIN from RST.
 */
import assert from "node:assert/strict";
import { socks5Connect } from "../fakes/socks5_client.ts";
import { type NodeProcess, startNode, writeMeshFiles } from "../fakes/zt_node.ts";
import { meshPod } from "../fakes/mesh_config.ts";
import { startEchoServer } from "../fakes/echo_server.ts";

const PROBE = new URL("../peers/tcp_end_probe.py", import.meta.url).pathname;
const A = { name: "fault-a", ip: "127.71.0.1" };
const B = { name: "fault-b", ip: "127.71.0.2" };
const C = { name: "fault-c", ip: "127.71.0.3" }; // never started
const client = { name: "client-1", ip: "127.71.0.11", node: A.name };
const app = { name: "app-1", ip: "127.71.0.12", node: B.name };
const orphan = { name: "orphan-1", ip: "127.71.0.13", node: C.name };
const SOCKS = { ip: client.ip, port: 15080 };
const PROBE_PORT = 7100;
const ECHO_PORT = 7101;

/** A child process whose stdout lines can be awaited. */
class Lines {
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  constructor(readonly child: Deno.ChildProcess) {
    (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        this.#lines.push(...parts);
        for (const w of this.#waiters.splice(0)) w();
      }
    })();
  }
  async next(match: (l: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const i = this.#lines.findIndex(match);
      if (i >= 0) return this.#lines.splice(i, 1)[0];
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no matching line; saw ${JSON.stringify(this.#lines)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }
}

function python(args: string[]): Lines {
  return new Lines(
    new Deno.Command("python3", { args: [PROBE, ...args], stdout: "piped", stderr: "inherit" }).spawn(),
  );
}

/** Reads to the end: how many bytes, and whether it ended in a reset rather than a FIN. */
async function drain(c: Deno.Conn, timeoutMs = 10_000): Promise<{ bytes: number; reset: boolean }> {
  const buf = new Uint8Array(65536);
  let bytes = 0;
  const timer = setTimeout(() => c.close(), timeoutMs);
  try {
    for (let n; (n = await c.read(buf)) !== null;) bytes += n;
    return { bytes, reset: false };
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionReset) return { bytes, reset: true };
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("faults through SOCKS5: refused dial → 0x05; resets and a killed node reach the other end as RST", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "zt-faults-" });
  const { caDir, configPath } = await writeMeshFiles(dir, {
    workloads: [meshPod(client), meshPod(app), meshPod(orphan)],
  });
  const probe = python(["serve", app.ip, String(PROBE_PORT)]);
  const echo = startEchoServer(app.ip, ECHO_PORT);
  const nodes: NodeProcess[] = [];
  try {
    await probe.next((l) => l === "listening");
    nodes.push(...await Promise.all([A, B].map((n) => startNode({ ...n, caDir, configPath }))));
    const [nodeA, nodeB] = nodes;

    await t.step("a refused HBONE dial (the destination's node is down) answers 0x05", async () => {
      const r = await socks5Connect(SOCKS, orphan.ip, 80);
      assert.equal(r.reply, 5, "SOCKS5 reply 0x05: connection refused");
    });

    await t.step("the app resets mid-response → the client is reset, not closed cleanly", async () => {
      const { reply, conn } = await socks5Connect(SOCKS, app.ip, PROBE_PORT);
      assert.equal(reply, 0);
      await conn.write(new TextEncoder().encode("reset 4000\n"));
      const got = await drain(conn);
      assert.equal(got.reset, true, `a reset after ${got.bytes} bytes, not a FIN`);
      conn.close();
      const line = await nodeA.waitForLog((l) =>
        l.scope === "access" && l["dst.hbone_addr"] === `${app.ip}:${PROBE_PORT}`
      );
      assert.match(String(line.error), /reset/, "the access log names the reset");
    });

    await t.step("the client resets → the app sees a reset, not a FIN", async () => {
      const c = python(["socks-reset", SOCKS.ip, String(SOCKS.port), app.ip, String(PROBE_PORT), "3000"]);
      assert.equal(await c.next((l) => l.startsWith("reply ")), "reply 0");
      const end = await probe.next((l) => l.startsWith("end "));
      assert.match(end, /^end RESET /, end);
      await c.child.status;
    });

    await t.step("a clean end stays a FIN both ways", async () => {
      const { reply, conn } = await socks5Connect(SOCKS, app.ip, PROBE_PORT);
      assert.equal(reply, 0);
      await conn.write(new TextEncoder().encode("watch\n12345"));
      await conn.closeWrite();
      assert.equal(await probe.next((l) => l.startsWith("end ")), "end EOF 5");
      assert.deepEqual(await drain(conn), { bytes: 0, reset: false });
      conn.close();
    });

    await t.step("the destination node is killed mid-transfer → the client is reset", async () => {
      const { reply, conn } = await socks5Connect(SOCKS, app.ip, ECHO_PORT);
      assert.equal(reply, 0);
      await conn.write(new Uint8Array(1000));
      const buf = new Uint8Array(1000);
      let n = 0;
      while (n < 1000) n += (await conn.read(buf.subarray(n))) ?? 0;
      const reading = drain(conn);
      await nodeB.stop("SIGKILL");
      const got = await reading;
      assert.equal(got.reset, true, "a reset, not a FIN, once node B is gone");
      conn.close();
      const line = await nodeA.waitForLog((l) =>
        l.scope === "access" && l["dst.hbone_addr"] === `${app.ip}:${ECHO_PORT}` && l.error !== undefined
      );
      assert.equal(line.level, "error", `the access log says it failed: ${line.error}`);
    });
  } finally {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    probe.child.kill("SIGKILL");
    await probe.child.status;
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});
