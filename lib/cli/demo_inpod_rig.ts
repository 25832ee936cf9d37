/**
 * Everything the in-pod demo runs, and its removal: the namespace topology (lib/cli/demo_inpod_plan.ts),
 * the pods' resolv.conf, the mesh config with each pod's `netns:`, the httpbin replicas inside their
 * pods, `zt cni` and an in-pod `zt run` in each node's namespace. `close` stops what runs (SIGTERM,
 * then SIGKILL after a grace period), closes the demo's pod sockets and removes every namespace, file
 * and directory it made — on success, on failure and on Ctrl-C alike.
 */
import { stringify } from "yaml";
import { type DemoLock, DemoNamespaces } from "./demo_netns.ts";
import { NetnsProcess } from "./demo_netns_process.ts";
import { demoMesh } from "./demo_mesh.ts";
import {
  INPOD_NODES,
  INPOD_PODS,
  type InpodDemoNode,
  podResolvConf,
  topologySteps,
} from "./demo_inpod_plan.ts";
import { PodSockets } from "./demo_pod_sockets.ts";
import { PodHttpbin } from "./demo_pod_httpbin.ts";
import { ZtError } from "../error.ts";

export const HTTPBIN_PORT = 8080;

export class InpodRig {
  readonly caDir: string;
  readonly configPath: string;
  readonly sockets = PodSockets.open();
  readonly #ns: DemoNamespaces;
  readonly #httpbins: PodHttpbin[] = [];
  readonly cnis: NetnsProcess[] = [];
  readonly nodes: NetnsProcess[] = [];
  #closed?: Promise<string[]>;

  private constructor(readonly dir: string, ns: DemoNamespaces) {
    this.caDir = `${dir}/ca`;
    this.configPath = `${dir}/mesh.yaml`;
    this.#ns = ns;
  }

  /** A temp directory and the demo's lock (a dead demo's leftovers removed first; `onReclaim` says so). */
  static async create(onReclaim: (old: DemoLock) => void): Promise<InpodRig> {
    const dir = await Deno.makeTempDir({ prefix: "zt-demo-" });
    try {
      return new InpodRig(dir, await DemoNamespaces.claim(dir, { onReclaim }));
    } catch (e) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw e;
    }
  }

  get namespaces(): DemoNamespaces {
    return this.#ns;
  }

  udsPath(node: InpodDemoNode): string {
    return `${this.dir}/${node.name}.sock`;
  }

  async buildTopology(): Promise<void> {
    for (const s of topologySteps()) {
      if ("add" in s) await this.#ns.add(s.add, s.sysctls);
      else await this.#ns.must(s.ns, s.argv);
    }
    for (const p of INPOD_PODS) await this.#ns.etcFile(p.ns, "resolv.conf", podResolvConf("ambient-demo"));
  }

  /** Writes the mesh config (replaced by rename, so watchers never read half a file). */
  async writeMesh(extraDocument?: string): Promise<void> {
    const text = stringify(demoMesh(INPOD_PODS)) + (extraDocument ? `---\n${extraDocument}` : "");
    await Deno.writeTextFile(`${this.configPath}.tmp`, text);
    await Deno.rename(`${this.configPath}.tmp`, this.configPath);
  }

  /** The httpbin replicas, listening on 0.0.0.0:8080 inside their pods' namespaces. */
  startHttpbins(): void {
    if (this.#closed) throw new ZtError("demo", "the demo is being torn down");
    for (const p of INPOD_PODS.filter((p) => p.app === "httpbin")) {
      this.#httpbins.push(new PodHttpbin(p.name, this.sockets.factory(p.netns), HTTPBIN_PORT));
    }
  }

  cniArgs(node: InpodDemoNode): string[] {
    return [
      "cni",
      "--config",
      this.configPath,
      "--node",
      node.name,
      "--uds",
      this.udsPath(node),
      "--ipv6",
      "false",
    ];
  }

  nodeEnv(node: InpodDemoNode): Record<string, string> {
    return {
      NODE_NAME: node.name,
      INSTANCE_IP: node.ip,
      LOCAL_XDS_PATH: this.configPath,
      LOCAL_CA_DIR: this.caDir,
      INPOD_ENABLED: "true",
      INPOD_UDS: this.udsPath(node),
    };
  }

  #spawn(name: string, ns: string, args: string[], env: Record<string, string>): NetnsProcess {
    if (this.#closed) throw new ZtError("demo", "the demo is being torn down");
    return new NetnsProcess(name, ns, args, env);
  }

  /** `zt cni` in each node's namespace, until each says "cni agent ready". */
  async startCni(): Promise<void> {
    for (const n of INPOD_NODES) this.cnis.push(this.#spawn(`cni ${n.name}`, n.ns, this.cniArgs(n), {}));
    await Promise.all(this.cnis.map((c) => c.waitForLog((l) => l.message === "cni agent ready", 30_000)));
  }

  /** An in-pod `zt run` in each node's namespace, until each is ready (istio-cni's pods enrolled). */
  async startNodes(): Promise<void> {
    for (const n of INPOD_NODES) this.nodes.push(this.#spawn(n.name, n.ns, ["run"], this.nodeEnv(n)));
    await Promise.all(this.nodes.map((z) => z.waitForLog((l) => l.message === "zt ready", 30_000)));
  }

  /** Writes the config and waits until every node has applied it. */
  async applyMesh(extraDocument?: string): Promise<void> {
    const marks = this.nodes.map((z) => z.logs.length);
    await this.writeMesh(extraDocument);
    await Promise.all(
      this.nodes.map((z, i) => z.waitForLog((l) => l.message === "config applied", 10_000, marks[i])),
    );
  }

  /** Stops everything and removes everything (idempotent); problems met while removing. */
  close(): Promise<string[]> {
    return this.#closed ??= (async () => {
      await Promise.all([...this.nodes, ...this.cnis].map((p) => p.stop("SIGTERM", 3000)));
      for (const h of this.#httpbins) h.close();
      this.sockets.close();
      return await this.#ns.release();
    })();
  }
}
