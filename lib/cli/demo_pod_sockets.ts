/**
 * Sockets the demo itself opens inside a pod's network namespace, through zt's own socket factory
 * (lib/net/socket_factory.ts) with the pod's netns and no mark: the httpbin replicas' listeners, and
 * the built-in client used where curl or dig is missing. Unmarked, they are an app's sockets to
 * istio-cni's rules, which capture them exactly as they capture curl's.
 */
import { Libc } from "../net/libc.ts";
import { NetNamespace } from "../net/netns.ts";
import { Readiness } from "../net/readiness.ts";
import { SocketFactory } from "../net/socket_factory.ts";
import { ZtError } from "../error.ts";

export class PodSockets {
  readonly #libc: Libc;
  readonly #readiness: Readiness;
  readonly #home: NetNamespace;
  readonly #pods = new Map<string, { ns: NetNamespace; factory: SocketFactory }>();
  #closed = false;

  private constructor(libc: Libc) {
    this.#libc = libc;
    this.#readiness = new Readiness(libc);
    this.#home = NetNamespace.current(libc);
  }

  static open(): PodSockets {
    return new PodSockets(Libc.open());
  }

  /** The socket factory of the pod whose namespace file is `netnsPath` (opened once). */
  factory(netnsPath: string): SocketFactory {
    if (this.#closed) throw new ZtError("demo", "the demo's pod sockets are closed");
    let pod = this.#pods.get(netnsPath);
    if (!pod) {
      const ns = NetNamespace.open(this.#libc, netnsPath, this.#home);
      const factory = new SocketFactory({
        libc: this.#libc,
        readiness: this.#readiness,
        netns: ns,
        connectTimeoutMs: 5000,
      });
      pod = { ns, factory };
      this.#pods.set(netnsPath, pod);
    }
    return pod.factory;
  }

  /** Closes the namespace handles (sockets made from them close on their own); idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { ns } of this.#pods.values()) ns.close();
    this.#pods.clear();
    this.#readiness.close();
    this.#home.close();
  }
}
