/** The machine a report was measured on. */
import { run } from "./process.ts";

export interface Machine {
  cores: string;
  cpu: string;
  memory: string;
  kernel: string;
  deno: string;
  v8: string;
  openssl: string;
  date: string;
  /** /proc/loadavg's 1-minute figure when the run started and ended (other work on the machine). */
  loadStart: string;
  loadEnd?: string;
}

export async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  } catch {
    return "unknown";
  }
}

async function cmd(c: string, args: string[]): Promise<string> {
  try {
    return (await run(c, args, { timeoutMs: 10000 })).trim();
  } catch (e) {
    return `unknown (${e instanceof Error ? e.message.slice(0, 80) : e})`;
  }
}

export async function machineInfo(): Promise<Machine> {
  let cpu = "unknown", memory = "unknown";
  try {
    cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpu;
    const kb = Number(Deno.readTextFileSync("/proc/meminfo").match(/^MemTotal:\s+(\d+)/m)?.[1]);
    if (kb) memory = `${(kb / 1024 / 1024).toFixed(1)} GiB`;
  } catch { /* not Linux */ }
  return {
    cores: await cmd("nproc", []),
    cpu,
    memory,
    kernel: await cmd("uname", ["-r"]),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    openssl: (await cmd("openssl", ["version"])).split(" (")[0],
    date: new Date().toISOString(),
    loadStart: await loadAverage(),
  };
}
