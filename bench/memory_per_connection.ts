/**
 * JS heap held per idle tunnelled connection: nodes A and B run in this process (with the test's own
 * client and sink sockets, so it is an upper bound for the two nodes together). Needs /tmp/perf from
 * bench/zt_nodes.ts-style files: run with --v8-flags=--expose-gc; `snap` writes a heap snapshot.
 *   deno run -A --v8-flags=--expose-gc bench/memory_per_connection.ts [snap]
 */
import { App } from "../lib/app.ts";
import { loadConfig } from "../lib/config/config.ts";
import { initCaDir } from "../lib/identity/ca_init.ts";
const dir = await Deno.makeTempDir({ prefix: "zt-mem-" });
await initCaDir(`${dir}/ca`);
await Deno.writeTextFile(
  `${dir}/mesh.yaml`,
  `workloads:
- {name: client, namespace: bench, serviceAccount: client, workloadIps: ["127.60.1.1"], protocol: HBONE, node: node-a}
- {name: server, namespace: bench, serviceAccount: server, workloadIps: ["127.60.2.1"], protocol: HBONE, node: node-b}
`,
);
const base = { LOCAL_XDS_PATH: `${dir}/mesh.yaml`, LOCAL_CA_DIR: `${dir}/ca`, RUST_LOG: "warn" };
await App.start(loadConfig({ ...base, NODE_NAME: "node-a", INSTANCE_IP: "127.60.0.1" }));
await App.start(loadConfig({ ...base, NODE_NAME: "node-b", INSTANCE_IP: "127.60.0.2" }));
const sink = Deno.listen({ hostname: "127.60.2.1", port: 19000 });
const held: Deno.Conn[] = [];
(async () => {
  for await (const c of sink) {
    held.push(c);
    const buf = new Uint8Array(16);
    c.read(buf).catch(() => {});
  }
})();
const gc = () => (globalThis as unknown as { gc(): void }).gc();
const N = 2000;
async function socks(): Promise<Deno.Conn> {
  const c = await Deno.connect({ hostname: "127.60.1.1", port: 15080 });
  await c.write(new Uint8Array([5, 1, 0]));
  await c.read(new Uint8Array(2));
  await c.write(new Uint8Array([5, 1, 0, 1, 127, 60, 2, 1, 19000 >> 8, 19000 & 255]));
  const r = new Uint8Array(10);
  await c.read(r);
  if (r[1] !== 0) throw new Error("reply " + r[1]);
  return c;
}
const warm = await socks();
warm.close();
await new Promise((r) => setTimeout(r, 300));
gc();
gc();
const h0 = Deno.memoryUsage().heapUsed;
const clients: Deno.Conn[] = [];
for (let i = 0; i < N; i++) clients.push(await socks());
await new Promise((r) => setTimeout(r, 500));
gc();
gc();
const h1 = Deno.memoryUsage().heapUsed;
console.log(`JS heap per tunnelled idle connection (both nodes): ${((h1 - h0) / N / 1024).toFixed(2)} KiB`);
if (Deno.args[0] === "snap") {
  const v8 = await import("node:v8");
  console.log(v8.writeHeapSnapshot(`${dir}/idle.heapsnapshot`));
}
for (const c of clients) c.close();
if (Deno.args[0] !== "snap") await Deno.remove(dir, { recursive: true });
Deno.exit(0);
