/**
 * `zt demo`: Istio's ambient L4 guide on one machine, in in-pod mode where this machine can run it
 * (root, Linux, iproute2, iptables, nsenter: nodes and pods as network namespaces, `zt cni`, in-pod zt
 * nodes, unmodified clients in the pods), in loopback mode otherwise (127.x addresses, SOCKS5), saying
 * in one line why. `--inpod` / `--loopback` force one. Exit code 0 when every step behaved as the guide
 * says; everything the demo made is removed again.
 */
import { parseArgs } from "node:util";
import { errorMessage } from "../error.ts";
import { ztCommand } from "./node_process.ts";
import { chooseDemoMode, demoModeFlag } from "./demo_mode.ts";
import { inpodBlocker } from "./demo_inpod_probe.ts";
import { INPOD_NAMESPACES } from "./demo_inpod_plan.ts";
import { loopbackDemo } from "./demo_loopback.ts";
import { inpodDemo } from "./demo_inpod.ts";

export const DEMO_HELP = `zt demo [--inpod | --loopback]

Runs Istio's ambient L4 guide on this machine (a CA, two nodes, sleep, notsleep and two httpbin replicas,
requests alternating between the replicas over HBONE, the guide's AuthorizationPolicy sequence, the drain)
and removes everything it made. Exit code 0 when every step behaved as the guide says.
  (default)    in-pod mode where this machine can (root, Linux, ip, iptables-restore, nsenter, sysctl),
               loopback mode otherwise, saying why
  --inpod      in-pod mode, as Istio >= 1.21: nodes and pods as network namespaces, zt cni installs
               istio-cni's in-pod rules and hands the pods to in-pod zt nodes over ZDS, unmodified curl
               and dig inside the pods (ip netns exec sleep curl http://httpbin:8000/)
  --loopback   loopback mode: nodes and pods on 127.x addresses, clients through SOCKS5; no root needed`;

/** The demo starts its nodes as processes; the binary's permissions (permissions.txt) leave that out. */
function canStartNodes(): boolean {
  const command = ztCommand().cmd;
  if (Deno.permissions.querySync({ name: "run", command }).state === "granted") return true;
  console.error(
    `zt demo starts its nodes as child processes, which needs --allow-run (a node itself never does, so zt's\n` +
      `permissions leave it out). Run it with 'deno task demo', or add --allow-run to the bundle's flags:\n` +
      `  deno run --cached-only <permissions.txt flags> --allow-run dist/zt.js demo`,
  );
  return false;
}

export async function demoCommand(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        inpod: { type: "boolean" },
        loopback: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`zt demo: ${errorMessage(e)}\n\n${DEMO_HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const flag = demoModeFlag(values);
  if (flag !== "auto" && flag !== "inpod" && flag !== "loopback") {
    console.error(`zt demo: ${flag}\n\n${DEMO_HELP}`);
    return 2;
  }
  if (!canStartNodes()) return 1;
  const blocker = flag === "loopback" ? undefined : await inpodBlocker(INPOD_NAMESPACES);
  const choice = chooseDemoMode(flag, blocker);
  switch (choice.mode) {
    case "refused":
      console.error(`zt demo --inpod: ${choice.reason}`);
      return 1;
    case "loopback":
      if (choice.note) console.log(`zt demo: ${choice.note} (zt demo --help)`);
      return await loopbackDemo();
    case "inpod":
      console.log(
        "zt demo: in-pod mode (network namespaces, zt cni, in-pod zt nodes; --loopback for the loopback demo)",
      );
      try {
        return await inpodDemo();
      } catch (e) {
        console.error(`zt demo: ${errorMessage(e)}`);
        return 1;
      }
  }
}
