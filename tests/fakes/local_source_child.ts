/**
 * A LocalConfigSource in a process of its own, for faults a test cannot cause in its own process: run it
 * under a low `ulimit -n`, or without root's DAC override. `deno run -A local_source_child.ts <path>
 * [exhaust]`. Prints one JSON object per line on stdout — {ev:"started", ips}, {ev:"failure", kind},
 * {ev:"log", line}, {ev:"exhausted", held, error}, {ev:"released"}, {ev:"config", ips} — and exits 0 after
 * the first reload. With `exhaust` it opens files until EMFILE right after starting and closes them
 * after the second failed read, so only a retry (no file event) can bring the change in.
 *
 * Run it with DENO_NO_UPDATE_CHECK=1: Deno 2.9's update check panics when it cannot open a file. So does
 * its first signal registration (ext/signals), which the node: modules ask for about 0.5 s after the
 * start and a stdin read asks for too: one listener is registered before exhausting (as `zt run` does).
 */
import { Logger, LogSink } from "../../lib/log/logger.ts";
import type { LocalConfig } from "../../lib/state/local_config.ts";
import { LocalConfigSource } from "../../lib/state/local_source.ts";

const [path, mode] = Deno.args;
const enc = new TextEncoder();
const emit = (o: Record<string, unknown>) => Deno.stdout.writeSync(enc.encode(JSON.stringify(o) + "\n"));
const ips = (c: LocalConfig) => c.workloads.map((w) => w.workloadIps[0]);

Deno.addSignalListener("SIGUSR2", () => {});
const held: Deno.FsFile[] = [];
let readFailures = 0;
const sink = new LogSink(
  { defaultLevel: "debug", components: new Map() },
  "plain",
  (line) => emit({ ev: "log", line }),
);
const src = new LocalConfigSource({
  path,
  log: new Logger(sink, "config"),
  debounceMs: 30,
  retryMs: 50,
  maxRetryMs: 200,
  onConfig: (c) => {
    emit({ ev: "config", ips: ips(c) });
    src.close().then(() => Deno.exit(0));
  },
  onFailure: (kind) => {
    emit({ ev: "failure", kind });
    if (kind === "read" && ++readFailures === 2 && held.length > 0) {
      for (const f of held.splice(0)) f.close();
      emit({ ev: "released" });
    }
  },
});
emit({ ev: "started", ips: ips(await src.start()) });

if (mode === "exhaust") {
  let error = "";
  for (;;) {
    try {
      held.push(Deno.openSync("/dev/null"));
    } catch (e) {
      error = (e as Error).message;
      break;
    }
  }
  emit({ ev: "exhausted", held: held.length, error });
}
