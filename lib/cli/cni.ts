/**
 * `zt cni`: istio-cni's node agent for one machine. From the local config it picks the node's ambient
 * pods (lib/capture/inpod_pods.ts), installs istio-cni's in-pod rules in each pod's network namespace,
 * and enrols the pods over ZDS (lib/inpod/zds_server.ts) to a node proxy in shared mode (`zt run` with
 * PROXY_MODE=shared, or ztunnel). It follows the config file: a pod added, removed or relabelled gets its
 * rules installed or removed and an Add or a Del. As istio-cni does, rules go in before the Add, and a
 * pod whose rules cannot be installed is not enrolled (retried at the next config change). On
 * SIGTERM/SIGINT it removes its rules and its socket; the proxy keeps its pods until told otherwise.
 */
import { parseArgs } from "node:util";
import { errorMessage } from "../error.ts";
import { Libc } from "../net/libc.ts";
import { Readiness } from "../net/readiness.ts";
import { Logger, LogSink, parseLogFilter } from "../log/logger.ts";
import type { LocalConfig } from "../state/local_config.ts";
import { LocalConfigSource } from "../state/local_source.ts";
import { ZdsServer } from "../inpod/zds_server.ts";
import { type Exec, systemExec } from "../capture/command_runner.ts";
import { applyPodTask } from "../capture/inpod_apply.ts";
import { type InpodPod, inpodPodKey, selectInpodPods } from "../capture/inpod_pods.ts";
import type { PodAction } from "../capture/inpod_plan.ts";
import type { InpodSettings } from "../capture/inpod_rules.ts";
import { inpodSettings } from "../capture/inpod_settings.ts";

export const DEFAULT_ZDS_PATH = "/var/run/ztunnel/ztunnel.sock";

export const CNI_HELP = `zt cni --config PATH --node NAME [--uds PATH] [--dns-capture true|false]
       [--ipv6 true|false] [--exclude-namespaces a,b]

istio-cni's node agent for one machine: installs istio-cni's in-pod rules in each ambient pod of the
node (as \`zt redirect install --inpod\`) and enrols the pods over ZDS to a node proxy in shared mode
(\`PROXY_MODE=shared zt run\`, INPOD_UDS = the same socket). It watches the config: pods added, removed
or relabelled get their rules installed or removed and an Add or a Del. SIGTERM/SIGINT removes its
rules and its socket. Each pod names its network namespace file in the config (\`netns:\`).
  --config   the mesh config (default $LOCAL_XDS_PATH)
  --node     this node's name (default $NODE_NAME)
  --uds      the ZDS socket (default ${DEFAULT_ZDS_PATH})
  --dns-capture, --ipv6, --exclude-namespaces   as for \`zt redirect --inpod\`
Logs: RUST_LOG (default info), LOG_FORMAT plain|json.
Needs root (setns, iptables in the pods' namespaces) and --allow-run: nsenter, ip, iptables(-restore,
-save), ip6tables(-restore, -save).`;

export interface CniAgentOptions {
  readonly configPath: string;
  readonly node: string;
  readonly uds: string;
  readonly settings: InpodSettings;
  readonly excludeNamespaces?: readonly string[];
  readonly exec: Exec;
  readonly libc: Libc;
  readonly readiness: Readiness;
  readonly log: Logger;
}

interface Enrolled {
  readonly pod: InpodPod;
  readonly key: string;
}

const info = (p: InpodPod) => ({ name: p.name, namespace: p.namespace, serviceAccount: p.serviceAccount });

export class CniAgent {
  readonly #o: CniAgentOptions;
  readonly #enrolled = new Map<string, Enrolled>();
  #source?: LocalConfigSource;
  #server?: ZdsServer;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Rule installs or removals that failed (each logged). */
  failures = 0;

  constructor(opts: CniAgentOptions) {
    this.#o = opts;
  }

  /** Pods enrolled now (uids). */
  enrolled(): string[] {
    return [...this.#enrolled.keys()];
  }

  /** Loads the config, captures its pods, clears pods that must not be captured, then serves ZDS. */
  async start(): Promise<void> {
    const started = this.#start();
    this.#queue = started.catch(() => {});
    await started;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    this.#source = new LocalConfigSource({
      path: o.configPath,
      log: o.log,
      onConfig: (cfg) => this.#enqueue(() => this.#reconcile(cfg)),
    });
    const cfg = await this.#source.start();
    const sel = selectInpodPods(cfg, o.node, { excludeNamespaces: o.excludeNamespaces });
    for (const s of sel.skipped) o.log.info("pod not captured", { pod: s });
    // Rules a previous run left in pods that are no longer captured.
    for (const pod of sel.uncaptured) await this.#apply(pod, "remove");
    for (const pod of sel.captured) {
      if (await this.#apply(pod, "install")) this.#enrolled.set(pod.uid, { pod, key: inpodPodKey(pod) });
    }
    this.#server = await ZdsServer.listen({
      path: o.uds,
      libc: o.libc,
      readiness: o.readiness,
      log: o.log,
      pods: [...this.#enrolled.values()].map(({ pod }) => ({
        uid: pod.uid,
        info: info(pod),
        netnsPath: pod.netns,
      })),
    });
    o.log.info("cni agent ready", { uds: o.uds, node: o.node, pods: this.#enrolled.size });
  }

  /** Stops following the config, removes the rules it installed, closes the server, removes its socket. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#queue; // a start or a reconcile in flight finishes first
    await this.#source?.close();
    await this.#queue;
    for (const { pod } of this.#enrolled.values()) await this.#removeIfAlive(pod);
    this.#enrolled.clear();
    await this.#server?.close();
    try {
      await Deno.remove(this.#o.uds);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#o.log.warn("failed to remove the zds socket", { uds: this.#o.uds, error: errorMessage(e) });
      }
    }
    this.#o.log.info("cni agent stopped", { failures: this.failures });
  }

  #enqueue(fn: () => Promise<void>): void {
    this.#queue = this.#queue.then(fn).catch((e) => {
      this.#o.log.error("applying the local config failed", { error: errorMessage(e) });
    });
  }

  /** Makes rules and enrolment match the config: gone → rules out and Del; new or changed → rules, Add. */
  async #reconcile(cfg: LocalConfig): Promise<void> {
    if (this.#stopped) return;
    const o = this.#o;
    const desired = new Map(
      selectInpodPods(cfg, o.node, { excludeNamespaces: o.excludeNamespaces }).captured.map((
        p,
      ) => [p.uid, p]),
    );
    for (const [uid, e] of [...this.#enrolled]) {
      if (desired.has(uid)) continue;
      o.log.info("pod leaves the mesh", { uid, pod: `${e.pod.namespace}/${e.pod.name}` });
      await this.#removeIfAlive(e.pod);
      this.#enrolled.delete(uid);
      await this.#server?.removePod(uid).catch((err) =>
        o.log.warn("failed to send pod delete", { uid, error: errorMessage(err) })
      );
    }
    for (const [uid, pod] of desired) {
      const was = this.#enrolled.get(uid);
      const key = inpodPodKey(pod);
      if (was?.key === key) continue;
      if (!(await this.#apply(pod, "install"))) continue;
      const newSandbox = was !== undefined && was.pod.netns !== pod.netns;
      if (newSandbox) await this.#removeIfAlive(was.pod);
      this.#enrolled.set(uid, { pod, key });
      // A relabel only changes the rules; the proxy needs an Add for a new pod, netns or identity.
      if (!was || newSandbox || JSON.stringify(info(was.pod)) !== JSON.stringify(info(pod))) {
        await this.#add(pod);
      }
    }
  }

  async #add(pod: InpodPod): Promise<void> {
    try {
      await this.#server?.addPod(pod.uid, info(pod), pod.netns);
    } catch (e) {
      // The pod stays in the server's cache: the proxy's next snapshot carries it.
      this.#o.log.warn("pod add not acknowledged", { uid: pod.uid, error: errorMessage(e) });
    }
  }

  /** Removes a pod's rules unless its namespace is gone already (istio-cni: only if the pod is alive). */
  async #removeIfAlive(pod: InpodPod): Promise<void> {
    try {
      await Deno.stat(pod.netns);
    } catch {
      this.#o.log.debug("pod netns gone; no rules to remove", { uid: pod.uid, netns: pod.netns });
      return;
    }
    await this.#apply(pod, "remove");
  }

  async #apply(pod: InpodPod, action: PodAction): Promise<boolean> {
    const fields = { uid: pod.uid, pod: `${pod.namespace}/${pod.name}`, netns: pod.netns };
    try {
      await applyPodTask({ pod, action }, this.#o.settings, this.#o.exec);
      this.#o.log.info(action === "install" ? "in-pod rules installed" : "in-pod rules removed", fields);
      return true;
    } catch (e) {
      this.failures++;
      this.#o.log.error(`failed to ${action} in-pod rules`, { ...fields, error: errorMessage(e) });
      return false;
    }
  }
}

export async function cniCommand(args: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args,
      strict: true,
      options: {
        config: { type: "string" },
        node: { type: "string" },
        uds: { type: "string" },
        "dns-capture": { type: "string" },
        ipv6: { type: "string" },
        "exclude-namespaces": { type: "string" },
      },
    }).values;
  } catch (e) {
    console.error(`zt cni: ${errorMessage(e)}\n\n${CNI_HELP}`);
    return 2;
  }
  const env = Deno.env.toObject();
  const configPath = v.config ?? env.LOCAL_XDS_PATH;
  const node = v.node ?? env.NODE_NAME;
  if (!configPath || !node) {
    console.error(`zt cni: needs --config (or LOCAL_XDS_PATH) and --node (or NODE_NAME)\n\n${CNI_HELP}`);
    return 2;
  }
  let settings: InpodSettings;
  let log: Logger;
  try {
    settings = inpodSettings({ dnsCapture: v["dns-capture"], ipv6: v.ipv6 }, env);
    const format = env.LOG_FORMAT === "json" ? "json" : "plain";
    log = new Logger(new LogSink(parseLogFilter(env.RUST_LOG ?? "info"), format), "cni");
  } catch (e) {
    console.error(`zt cni: ${errorMessage(e)}`);
    return 2;
  }
  const libc = Libc.open();
  const readiness = new Readiness(libc);
  const agent = new CniAgent({
    configPath,
    node,
    uds: v.uds ?? DEFAULT_ZDS_PATH,
    settings,
    excludeNamespaces: v["exclude-namespaces"]?.split(",").map((s) => s.trim()).filter(Boolean),
    exec: systemExec(),
    libc,
    readiness,
    log,
  });
  // Signals are routed before starting, so a SIGTERM during startup still cleans up.
  let stopping: Promise<void> | undefined;
  let interrupts = 0;
  const done = Promise.withResolvers<void>();
  const onSignal = (sig: Deno.Signal) => () => {
    if (sig === "SIGINT" && ++interrupts > 1) Deno.exit(130);
    stopping ??= agent.stop().finally(() => done.resolve());
  };
  Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
  Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  try {
    await agent.start();
  } catch (e) {
    log.error("cni agent failed to start", { error: errorMessage(e) });
    await (stopping ?? agent.stop());
    return 1;
  }
  await done.promise;
  readiness.close();
  libc.close();
  return 0;
}
