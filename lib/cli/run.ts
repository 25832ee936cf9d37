/**
 * `zt run`: one node, until SIGTERM/SIGINT or /quitquitquit; a second SIGINT exits at once.
 * `zt proxy ztunnel` is the same, under the arguments Istio's ztunnel chart gives its container.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config/config.ts";
import { SETTINGS } from "../config/settings.ts";
import { App } from "../app.ts";
import { errorMessage } from "../error.ts";

export const RUN_HELP = `zt run [--<setting> value ...]

Runs one node. Every setting is an environment variable (ztunnel's names) or a flag:
${
  SETTINGS.map(([env, flag, def, what]) => `  --${flag.padEnd(34)} ${env} (default ${def || '""'}): ${what}`)
    .join("\n")
}
`;

export async function runCommand(args: string[]): Promise<number> {
  const options: Record<string, { type: "string" }> = {};
  for (const [, flag] of SETTINGS) options[flag] = { type: "string" };
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({ args, options, allowPositionals: false, strict: true }).values as Record<
      string,
      string
    >;
  } catch (e) {
    console.error(`zt run: ${errorMessage(e)}\n\n${RUN_HELP}`);
    return 2;
  }
  let app: App;
  try {
    app = App.create(loadConfig(Deno.env.toObject(), flags, Deno.hostname?.() ?? "localhost"));
  } catch (e) {
    console.error(`zt: ${errorMessage(e)}`);
    return 1;
  }
  // Signals are routed before startup begins, so SIGTERM while waiting for istiod still drains cleanly.
  let interrupts = 0;
  const onSignal = (sig: Deno.Signal) => () => {
    if (sig === "SIGINT" && ++interrupts > 1) {
      app.log.warn("second interrupt: exiting now");
      Deno.exit(130);
    }
    app.shutdown();
  };
  const term = onSignal("SIGTERM");
  const int = onSignal("SIGINT");
  Deno.addSignalListener("SIGTERM", term);
  Deno.addSignalListener("SIGINT", int);
  try {
    await app.run();
  } catch (e) {
    console.error(`zt: ${errorMessage(e)}`);
    return 1;
  }
  // The listeners stay installed until exit: a signal arriving between drain and exit must not kill us.
  return await app.done;
}

export const PROXY_HELP = `zt proxy ztunnel [--<setting> value ...]

Runs one node exactly like \`zt run\`: the arguments Istio's ztunnel Helm chart starts its container with
(args: ["proxy", "ztunnel"]), so zt's image runs under the chart unchanged. Settings as \`zt run --help\`.
`;

/** `zt proxy ztunnel ...` → `zt run ...`; any other proxy kind is a usage error. */
export async function proxyCommand(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind !== "ztunnel") {
    const what = kind === undefined ? "no proxy kind" : `unknown proxy kind "${kind}"`;
    console.error(`zt proxy: ${what} (zt runs only as ztunnel: zt proxy ztunnel)\n\n${PROXY_HELP}`);
    return 2;
  }
  if (rest[0] === "--help" || rest[0] === "-h") {
    console.log(PROXY_HELP);
    return 0;
  }
  return await runCommand(rest);
}
