/** zt: a node-level zero-trust tunnel (Istio ambient's ztunnel, at L4) on Deno. */
import { PROXY_HELP, proxyCommand, RUN_HELP, runCommand } from "./lib/cli/run.ts";
import { CA_HELP, caCommand } from "./lib/cli/ca.ts";
import { VERSION } from "./lib/version.ts";
import { DEMO_HELP, demoCommand } from "./lib/cli/demo.ts";
import { POLICY_CHECK_HELP, policyCommand } from "./lib/cli/policy_check.ts";
import { REDIRECT_HELP, redirectCommand } from "./lib/cli/redirect.ts";
import { CNI_HELP, cniCommand } from "./lib/cli/cni.ts";
import { CONFIG_HELP, configCommand, LOG_LEVEL_HELP, logLevelCommand } from "./lib/cli/config_view.ts";
import { DNS_HELP, dnsCommand } from "./lib/cli/dns_lookup.ts";

export const COMMANDS: Record<
  string,
  { summary: string; run: (args: string[]) => Promise<number>; help?: string }
> = {
  run: { summary: "run a node (standalone: LOCAL_XDS_PATH + LOCAL_CA_DIR)", run: runCommand, help: RUN_HELP },
  proxy: {
    summary: "proxy ztunnel: the same as run, as Istio's ztunnel chart starts its container",
    run: proxyCommand,
    help: PROXY_HELP,
  },
  ca: { summary: "ca init DIR: write a built-in CA (Istio plug-in CA files)", run: caCommand, help: CA_HELP },
  demo: {
    summary: "run Istio's ambient L4 guide on this machine (in-pod mode as root, else loopback) and clean up",
    run: demoCommand,
    help: DEMO_HELP,
  },
  config: {
    summary: "config workloads|services|policies|secrets|all: a running node's view",
    run: configCommand,
    help: CONFIG_HELP,
  },
  policy: {
    summary: "policy check --from <id|ip> --to <ip:port>: the decision and the policy behind it",
    run: policyCommand,
    help: POLICY_CHECK_HELP,
  },
  redirect: {
    summary: "redirect install|remove: capture rules for this node's ambient pods (istio-cni's part)",
    run: redirectCommand,
    help: REDIRECT_HELP,
  },
  dns: {
    summary: "dns lookup NAME --pod NS/NAME [--type A]: what that pod's DNS proxy answers",
    run: dnsCommand,
    help: DNS_HELP,
  },
  cni: {
    summary: "cni --config F --node N: istio-cni's node agent for one machine (in-pod rules + ZDS server)",
    run: cniCommand,
    help: CNI_HELP,
  },
  "log-level": {
    summary: "show or change a running node's log levels",
    run: logLevelCommand,
    help: LOG_LEVEL_HELP,
  },
  version: {
    summary: "print the version",
    run: () => {
      console.log(`zt ${VERSION} (deno ${Deno.version.deno})`);
      return Promise.resolve(0);
    },
  },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `zt: a node-level zero-trust tunnel (Istio ambient ztunnel, L4) on Deno

Usage: zt <command> [options]   (zt <command> --help for details)

Commands:
${lines.join("\n")}
`;
}

export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    console.log(usage());
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    console.error(`zt: unknown command "${cmd}"\n\n${usage()}`);
    return 2;
  }
  if ((rest[0] === "--help" || rest[0] === "-h") && c.help) {
    console.log(c.help);
    return 0;
  }
  return await c.run(rest);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
