/**
 * A zt TcpListener in a process of its own, for tests that exhaust its descriptors (run it under a low
 * `ulimit -n`). Prints JSON lines: {"listening": port}, then {"accepted": n} per connection and
 * {"acceptError": "fd_budget" | "EMFILE"} when accepting stops for lack of descriptors. The stdin line
 * "release" closes every socket accepted so far and, from then on, each new one as it arrives; "quit"
 * exits. NO_BUDGET=1 runs the listener without zt's fd budget.
 */
import type net from "node:net";
import { Libc } from "../../lib/net/libc.ts";
import { Readiness } from "../../lib/net/readiness.ts";
import { SocketFactory } from "../../lib/net/socket_factory.ts";
import { FdBudget } from "../../lib/net/fd_budget.ts";
import { LineReader } from "./netns.ts";

const libc = Libc.open();
// As a node: the soft limit raised to the hard one, a reserve kept for Deno itself.
const budget = Deno.env.get("NO_BUDGET") ? undefined : new FdBudget(libc, { reserve: 24 });
const factory = new SocketFactory({ libc, readiness: new Readiness(libc), budget });
const l = factory.listenTcp({ ip: Deno.args[0] ?? "127.0.0.1", port: 0 });
const held: net.Socket[] = [];
let accepted = 0;
let closeAtOnce = false;
l.serve({
  onConnection: ({ socket }) => {
    socket.on("error", () => {});
    if (closeAtOnce) socket.destroy();
    else held.push(socket);
    console.log(JSON.stringify({ accepted: ++accepted }));
  },
  onAcceptError: (errno) => console.log(JSON.stringify({ acceptError: errno })),
});
console.log(JSON.stringify({ listening: l.address.port }));
const input = new LineReader(Deno.stdin.readable);
for (;;) {
  const line = await input.waitFor(() => true, 3_600_000).catch(() => "quit");
  if (line === "release") {
    closeAtOnce = true;
    for (const s of held.splice(0)) s.destroy();
  } else if (line === "quit") Deno.exit(0);
}
