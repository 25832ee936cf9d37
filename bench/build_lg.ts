/** Compiles the C load generator (bench/lg*.c) into bench/build/lg when a source is newer. */
import { ensureCommand } from "./apt.ts";
import { run } from "./process.ts";

const BENCH_DIR = new URL(".", import.meta.url).pathname;
export const LG_SOURCES = ["lg.c", "lg_net.c", "lg_sink.c", "lg_tput.c", "lg_rtt.c", "lg_conn.c"];
export const LG_BIN = `${BENCH_DIR}build/lg`;

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

export async function buildLg(): Promise<string> {
  const sources = [...LG_SOURCES, "lg.h"].map((f) => `${BENCH_DIR}${f}`);
  const built = mtime(LG_BIN);
  if (built > 0 && sources.every((s) => mtime(s) <= built)) return LG_BIN;
  const cc = await ensureCommand(["cc", "gcc"], ["gcc", "libc6-dev"]);
  Deno.mkdirSync(`${BENCH_DIR}build`, { recursive: true });
  console.error(`[bench] compiling ${LG_BIN} with ${cc} -O2 -pthread`);
  await run(cc, ["-O2", "-pthread", "-Wall", "-o", LG_BIN, ...LG_SOURCES], { cwd: BENCH_DIR });
  return LG_BIN;
}
