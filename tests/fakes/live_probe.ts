/**
 * A live tunnel under watch: one SOCKS5 connection through a pod's 15080 (→ HBONE → an echo app) doing
 * a 1-byte round trip every `intervalMs`, for as long as it runs. It runs in a process of its own, so
 * the attackers sharing the test's event loop do not slow the measurement down: the child times each
 * round trip and reports it on stdout ("s" when one starts, "e <ms>" when it is back, "f <why>" when the
 * tunnel failed). One still waiting counts with its age, so a stalled tunnel shows as a growing worst.
 *
 *   deno run --allow-net tests/fakes/live_probe.ts <proxy ip> <proxy port> <host> <port> <interval ms>
 */
import { socks5Connect } from "./socks5_client.ts";

export interface ProbeSummary {
  readonly roundTrips: number;
  readonly worstMs: number;
  readonly p99Ms: number;
  /** The first failure (a wrong byte, EOF, an error), if any: the tunnel then stopped. */
  readonly failure?: string;
}

export class LiveProbe {
  readonly #child: Deno.ChildProcess;
  readonly #rtts: number[] = [];
  #inFlightSince: number | undefined;
  #failure: string | undefined;
  readonly #read: Promise<void>;
  #started!: () => void;
  readonly #ready = new Promise<void>((r) => (this.#started = r));

  private constructor(args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", new URL(import.meta.url).pathname, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#read = this.#readLines();
  }

  /** Starts the probe once its tunnel is up (its first round trip is back). */
  static async start(proxy: { ip: string; port: number }, host: string, port: number, intervalMs = 100) {
    const p = new LiveProbe([proxy.ip, String(proxy.port), host, String(port), String(intervalMs)]);
    await Promise.race([p.#ready, p.#read]);
    if (p.#rtts.length === 0) throw new Error(`live probe did not start: ${p.#failure}`);
    return p;
  }

  async #readLines(): Promise<void> {
    let rest = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line === "s") this.#inFlightSince = performance.now();
        else if (line.startsWith("e ")) {
          this.#inFlightSince = undefined;
          this.#rtts.push(Number(line.slice(2)));
          this.#started();
        } else if (line.startsWith("f ")) this.#failure ??= line.slice(2);
      }
    }
  }

  /** Round trips so far: their index marks a window for `summary(from)`. */
  get count(): number {
    return this.#rtts.length;
  }

  /** The round trips since index `from` (and one still waiting, by its age). */
  summary(from = 0): ProbeSummary {
    const rtts = this.#rtts.slice(from);
    if (this.#inFlightSince !== undefined) rtts.push(performance.now() - this.#inFlightSince);
    const sorted = [...rtts].sort((a, b) => a - b);
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      roundTrips: this.#rtts.length - from,
      worstMs: r(sorted.at(-1) ?? 0),
      p99Ms: r(sorted[Math.floor(sorted.length * 0.99)] ?? 0),
      failure: this.#failure,
    };
  }

  /** Stops the probe (its connection closes with it). */
  async stop(): Promise<ProbeSummary> {
    const s = this.summary();
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.#child.status;
    await this.#read;
    return s;
  }
}

async function probe(args: string[]): Promise<void> {
  const [ip, port, host, dport, interval] = args;
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
  let conn: Deno.Conn;
  try {
    const s = await socks5Connect({ ip, port: Number(port) }, host, Number(dport));
    if (s.reply !== 0) throw new Error(`SOCKS5 reply ${s.reply}`);
    conn = s.conn;
  } catch (e) {
    out(`f connect: ${e instanceof Error ? e.message : e}`);
    return;
  }
  const buf = new Uint8Array(1);
  const t0 = performance.now();
  for (let k = 0;; k++) {
    const wait = t0 + k * Number(interval) - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    out("s");
    const at = performance.now();
    try {
      await conn.write(new Uint8Array([k & 0xff]));
      const n = await conn.read(buf);
      if (n === null) throw new Error("EOF");
      if (buf[0] !== (k & 0xff)) throw new Error(`got byte ${buf[0]}`);
    } catch (e) {
      out(`f round trip ${k}: ${e instanceof Error ? e.message : e}`);
      return;
    }
    out(`e ${(performance.now() - at).toFixed(2)}`);
  }
}

if (import.meta.main) await probe(Deno.args);
