/**
 * The clients the in-pod demo runs inside a pod, unmodified, each shown as the exact command: `curl`
 * for HTTP, `dig` (else `getent hosts`) for DNS. Where they are not installed, the built-in client
 * (lib/cli/demo_pod_builtin.ts) does the same from a socket inside the pod, and `describe` says so.
 */
import { shellQuote } from "../capture/rule_command.ts";
import type { Exec } from "../capture/command_runner.ts";
import { getInPod, type HttpAnswer, parsePodResolvConf, resolveInPod } from "./demo_pod_builtin.ts";
import type { PodSockets } from "./demo_pod_sockets.ts";

export type { HttpAnswer };

export interface ClientPod {
  /** The pod's network namespace name. */
  readonly ns: string;
  /** Its namespace file. */
  readonly netns: string;
  /** Its resolv.conf text (what `ip netns exec` mounts over /etc/resolv.conf). */
  readonly resolvConf: string;
}

export interface LookupAnswer {
  readonly output: string;
  readonly addresses: readonly string[];
}

export interface ClientTools {
  readonly curl: boolean;
  readonly dig: boolean;
  readonly getent: boolean;
}

const CURL = ["curl", "-sS", "--max-time", "5"];

export class PodClient {
  readonly #exec: Exec;
  readonly #sockets: PodSockets;
  readonly tools: ClientTools;

  constructor(exec: Exec, sockets: PodSockets, tools: ClientTools) {
    this.#exec = exec;
    this.#sockets = sockets;
    this.tools = tools;
  }

  /** One line on which clients run (built-in ones named). */
  describe(): string {
    const http = this.tools.curl ? "curl" : "the built-in HTTP client (curl is not installed)";
    const dns = this.tools.dig
      ? "dig"
      : this.tools.getent
      ? "getent (dig is not installed)"
      : "the built-in resolver (dig and getent are not installed)";
    const builtin = !this.tools.curl || (!this.tools.dig && !this.tools.getent);
    return `clients in the pods: ${http}; DNS: ${dns}` +
      (builtin
        ? ". The built-in client opens its sockets inside the pod's namespace, unmarked, so " +
          "istio-cni's rules capture them as they capture curl"
        : "");
  }

  /** The command shown for `get`. */
  httpCommand(pod: ClientPod, url: string): string {
    return this.tools.curl
      ? `ip netns exec ${pod.ns} ${[...CURL, url].map(shellQuote).join(" ")}`
      : `(built-in, in pod ${pod.ns}'s namespace) GET ${url}`;
  }

  async get(pod: ClientPod, url: string): Promise<HttpAnswer> {
    if (!this.tools.curl) {
      return await getInPod(this.#sockets.factory(pod.netns), parsePodResolvConf(pod.resolvConf), url);
    }
    const r = await this.#exec(["ip", "netns", "exec", pod.ns, ...CURL, url]);
    if (r.code === 0) return { ok: true, body: r.stdout };
    return { ok: false, body: r.stdout, error: r.stderr.trim() || `curl exited with ${r.code}` };
  }

  /** The command shown for `lookup`. */
  lookupCommand(pod: ClientPod, name: string): string {
    if (this.tools.dig) return `ip netns exec ${pod.ns} dig +search +noall +answer ${name}`;
    if (this.tools.getent) return `ip netns exec ${pod.ns} getent hosts ${name}`;
    return `(built-in, in pod ${pod.ns}'s namespace) resolve ${name} via its resolv.conf`;
  }

  async lookup(pod: ClientPod, name: string): Promise<LookupAnswer> {
    if (this.tools.dig || this.tools.getent) {
      const argv = this.tools.dig ? ["dig", "+search", "+noall", "+answer", name] : ["getent", "hosts", name];
      const r = await this.#exec(["ip", "netns", "exec", pod.ns, ...argv]);
      const output = (r.stdout + r.stderr).trim();
      const addresses = [...output.matchAll(/(?:^|\s)(\d+\.\d+\.\d+\.\d+)(?:\s|$)/gm)].map((m) => m[1]);
      return { output, addresses };
    }
    const got = await resolveInPod(
      this.#sockets.factory(pod.netns),
      parsePodResolvConf(pod.resolvConf),
      name,
    );
    const output = got.error ?? got.addresses.map((a) => `${got.name}. A ${a}`).join("\n");
    return { output, addresses: got.addresses };
  }
}
