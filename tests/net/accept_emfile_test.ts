/**
 * A listener never dies, and the process never reaches EMFILE: with its descriptors nearly spent, zt's
 * listener stops accepting (reported once), connections wait in the kernel's backlog, and once sockets
 * close it accepts them and new ones. (Deno itself aborts when it meets EMFILE in its own code, and
 * node:net's accept loop in Deno stops for good at the first one.)
 */
import assert from "node:assert/strict";
import { LineReader } from "../fakes/netns.ts";

const PROBE = new URL("../fakes/accept_probe.ts", import.meta.url).pathname;
const IP = "127.41.0.9";

Deno.test("tcp listener: a spent fd budget pauses accepting, the process survives, accepting resumes", async () => {
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n 72 && exec "${Deno.execPath()}" run -A "${PROBE}" ${IP}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = new LineReader(child.stdout);
  const stdin = child.stdin.getWriter();
  const clients: Deno.TcpConn[] = [];
  try {
    const { listening: port } = JSON.parse(await out.waitFor((l) => l.includes("listening"), 20_000));
    for (let i = 0; i < 60; i++) clients.push(await Deno.connect({ hostname: IP, port }));
    const stop = JSON.parse(await out.waitFor((l) => l.includes("acceptError"), 10_000));
    assert.equal(stop.acceptError, "fd_budget");
    await stdin.write(new TextEncoder().encode("release\n"));
    // Every connection that waited in the backlog is accepted now, and a new one too.
    clients.push(await Deno.connect({ hostname: IP, port }));
    await out.waitFor((l) => l === JSON.stringify({ accepted: 61 }), 15_000);
  } finally {
    for (const c of clients) c.close();
    await stdin.write(new TextEncoder().encode("quit\n")).catch(() => {});
    await stdin.close().catch(() => {});
    await child.status;
  }
});
